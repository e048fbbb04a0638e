// The opt-in structured event log: one JSON object per line, appended to a file, for users who want to
// watch their cache (hit rates over time, slow lookups, who waited on whose build).
//
//   {"ts": 1764720000.123, "event": "hit", "key": "<hex>", "tier": "layered", "bytes": 1234, "ms": 0.41,
//    "model": "models/resnet.onnx"}
//   events: hit, miss, put, remove, lock_wait (detail: whose lock, for how long); and from the local tier
//   itself (LocalStore, whenever StoreConfig::event_log is set): evict (LRU eviction by gc, bytes: the
//   file) and corrupt (an entry dropped as corrupt on read, detail: why)
//
// Enabled by StoreConfig::event_log (config line `event_log`, GRAPHCACHE_EVENT_LOG=<path>, the CLI's
// --event-log); open_store(config) wires it. Each event is one write() on an
// O_APPEND descriptor, so lines of concurrent processes never interleave. Logging never fails the cache
// operation it describes: a log that cannot be written is skipped.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "graphcache/store.hpp"

namespace graphcache {

class EventLog {
 public:
  explicit EventLog(std::string path) : path_(std::move(path)) {}

  // `model`: the model the entry was built from, when its recorded factors name one (hit, put).
  void record(std::string_view event, const Key* key, std::string_view tier, uint64_t bytes = 0,
              double milliseconds = 0, std::string_view detail = {}, std::string_view model = {}) noexcept;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `store` with every get / peek-free lookup, put and remove recorded in `log` (null: `store` itself).
std::shared_ptr<Store> with_event_log(std::shared_ptr<Store> store, std::shared_ptr<EventLog> log);

}  // namespace graphcache
