// Cross-process counters of a local store: 16 shard files of fixed-size u64 slots, each updated under
// flock (a process picks shard pid % 16, so processes rarely contend), summed on read. Files are opened
// per update, so every update has its own open file description: flock then excludes threads of one
// process and forked children alike. A "usage" file holds the current entry count and stored bytes,
// maintained incrementally by put/remove and reset to exact values by gc/verify.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/unique_fd.hpp"
#include "graphcache/store.hpp"

namespace graphcache::store {

struct CounterDelta {
  uint64_t hits = 0, misses = 0, puts = 0, evictions = 0, corrupt = 0, errors = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t untrusted = 0;

  CounterDelta& operator+=(const CounterDelta& o) {
    hits += o.hits, misses += o.misses, puts += o.puts, evictions += o.evictions, corrupt += o.corrupt;
    errors += o.errors, bytes_read += o.bytes_read, bytes_written += o.bytes_written;
    untrusted += o.untrusted;
    return *this;
  }
  bool any() const {
    return (hits | misses | puts | evictions | corrupt | errors | bytes_read | bytes_written | untrusted) !=
           0;
  }
};

struct Usage {
  int64_t entries = 0;
  int64_t bytes = 0;
};

class StatsFiles {
 public:
  // Creates the directory (a read-only cache has none and records nothing); throws Error(kIo) otherwise.
  explicit StatsFiles(std::string stats_dir);
  ~StatsFiles();

  // Counter updates never throw: a cache must not fail a build because a counter could not be written.
  // They return false if the update was lost. An update whose lock is busy (another process holds it) is
  // deferred, not waited for: it is added with this store's next update (or at destruction).
  bool add(const CounterDelta& delta) noexcept;
  bool add_usage(int64_t entries, int64_t bytes) noexcept;
  bool set_usage(Usage usage) noexcept;
  Usage usage() const noexcept;
  // Counters summed over all shards (entries / stored_bytes from the usage file).
  StoreStats read() const noexcept;
  void zero() noexcept;

 private:
  bool flush_locked(const CounterDelta& delta, std::chrono::milliseconds wait) noexcept;
  bool flush_usage_locked(std::chrono::milliseconds wait) noexcept;

  std::string dir_;
  UniqueFd dir_fd_;  // files are opened relative to it, never through a symlink
  std::mutex mutex_;
  CounterDelta pending_;
  Usage pending_usage_;
};

}  // namespace graphcache::store
