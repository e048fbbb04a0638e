// A local tier in front of a remote one: get tries local, then remote (a remote hit is written back
// locally); put writes local, then remote unless the remote is read-only.
//
// The remote must never break or stall the user's build. Any remote failure (Error kIo: refused, timeout,
// auth) is reported once through the warning sink, and the remote is then skipped for `retry_after`
// (local keeps serving); the next operation after that tries it again, and a success is reported too.
// Slow remotes are bounded by the remote's own timeouts (RedisConfig::io_timeout). A put that reached the
// local tier is never lost because the remote failed: put only throws when the local tier fails.
#pragma once

#include <chrono>
#include <memory>

#include "graphcache/store.hpp"

namespace graphcache {

struct LayeredStoreOptions {
  bool remote_read_only = false;
  std::chrono::milliseconds retry_after{std::chrono::seconds(30)};  // back-off after a remote failure
};

class LayeredStore final : public Store {
 public:
  LayeredStore(std::shared_ptr<Store> local, std::shared_ptr<Store> remote, LayeredStoreOptions options = {},
               WarningSink warn = {});
  ~LayeredStore() override;

  std::optional<Entry> get(const Key& key) override;
  // Local peek, then the remote's get (a remote has no uncounted read), written back like get.
  std::optional<Entry> peek(const Key& key) override;
  void put(const Key& key, const EngineSource& engine, const EntryMetadata& metadata) override;
  // Removes from both tiers (a read-only remote is left alone); true if either had it.
  bool remove(const Key& key) override;
  // The union of both tiers' entries (local info wins for keys in both); remote skipped while down.
  std::vector<EntryInfo> list() override;
  // The local tier's counters (what this machine sees); per-tier numbers are in tier_stats().
  StoreStats stats() override;
  // {"local": ..., "redis": ...}; a remote that cannot be reached reports only `errors`.
  std::map<std::string, StoreStats> tier_stats() override;
  std::string name() const override { return "layered"; }

  // Whether the remote is currently being skipped after a failure.
  bool remote_backing_off() const;
  Store& local() { return *local_; }
  Store& remote() { return *remote_; }

 private:
  std::optional<Entry> remote_get(const Key& key);  // remote get + write-back into the local tier
  struct Impl;
  std::shared_ptr<Store> local_, remote_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphcache
