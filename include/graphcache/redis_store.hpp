// The shared remote tier: engines in a Redis server (via hiredis), chunked so multi-GB engines fit under
// Redis' value limit (proto-max-bulk-len, 512 MiB by default).
//
// Layout under `key_prefix` (keys are validated Digests, so they cannot escape the prefix):
//   <prefix>m:<hex>              manifest: sizes, chunk count, per-chunk XXH3-64, metadata, generation
//   <prefix>c:<hex>:<gen>:<i>    chunk i of one put (a fresh random generation per put)
//   <prefix>stats                hash of shared counters (hits, misses, puts, ...) across all clients
// A put writes every chunk first and the manifest last, so a reader never sees a partial entry; two
// concurrent puts of one key write disjoint chunk keys and the last manifest wins. Reads verify each
// chunk's checksum: a missing, short or corrupt chunk is a miss + warning + counted + the entry removed.
//
// Hostile servers: every reply is bounded in size (per command) and time (io_timeout without progress,
// a deadline per reply and per operation; a get may take io_timeout * 5 + engine size / 8 MiB/s at most);
// replies of the wrong type or shape are errors, never indexed blindly; SCAN loops stop after 10,000
// pages. A manifest's sizes are checked before allocating, and the engine buffer only reserves address
// space, so memory grows with bytes actually received. Chunks of a put carry an expiry until the
// transaction that publishes their manifest removes it (or the configured TTL), so an interrupted put
// leaves nothing behind forever.
//
// Errors: get() returns nullopt for absent and corrupt entries (and when memory runs out); a server that
// cannot be reached (refused, timeout, auth failure) throws Error(kIo) from every method, so a layered store
// can tell "miss" from "remote down". Thread-safe (one connection per store, serialized).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "graphcache/store.hpp"

namespace graphcache {
class EntryTrust;
}

namespace graphcache {

struct RedisConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;  // Redis 6 ACL user; empty = the default user
  std::string password;  // empty = no AUTH
  std::string key_prefix = "graphcache:";
  std::chrono::seconds ttl{0};  // expiry of every entry key, refreshed on hit; 0 = never expire
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds io_timeout{5000};  // per socket read/write, so a stalled server cannot hang us
  uint64_t chunk_bytes = 64ull << 20;
  // A manifest claiming a larger engine is a miss, before anything is allocated for it.
  uint64_t max_engine_bytes = 64ull << 30;

  // Parses `redis://[[user]:password@]host[:port][/db]` with optional query parameters
  // `?prefix=...&ttl=<seconds>&timeout_ms=...&connect_timeout_ms=...&chunk_mib=...&max_engine_mib=...`.
  // Throws Error(kInvalidArgument) naming the bad part.
  static RedisConfig from_url(std::string_view url);
  // The URL without the password (safe to log).
  std::string redacted_url() const;
};

class RedisStore final : public Store {
 public:
  // Does not connect yet: the first operation does (and every operation after a connection failure).
  explicit RedisStore(RedisConfig config, WarningSink warn = {});
  ~RedisStore() override;

  std::optional<Entry> get(const Key& key) override;
  void put(const Key& key, const EngineSource& engine, const EntryMetadata& metadata) override;
  bool remove(const Key& key) override;
  std::vector<EntryInfo> list() override;
  // Counters shared by every client of this prefix (kept in the server), plus current contents.
  StoreStats stats() override;
  std::string name() const override { return "redis"; }

  // Signs puts / enforces require_signature on gets (signing.hpp); call before the store is used.
  void set_trust(std::shared_ptr<const EntryTrust> trust);
  // Connects (if needed) and PINGs; throws Error(kIo) when the server is unreachable.
  void ping();
  const RedisConfig& config() const { return config_; }

 private:
  class Impl;
  RedisConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphcache
