// Single-flight builds: when many processes (on one host or many) miss the same key at once, exactly one
// builds the engine and the others wait for it and read the result from the store.
//
// The "one builder" guarantee comes from a lock per key:
//  - RedisLockService: `SET <prefix>lock:<hex> <token> NX PX <ttl>`, refreshed every ttl/3 by a
//    background thread while the build runs, released by a Lua check-and-delete (only the holder's token
//    deletes it). A crashed builder stops refreshing, so its lock expires after at most `ttl`.
//  - FileLockService: flock() on <dir>/<hex>.lock, for a single host without a remote. The kernel drops
//    the lock when the holder dies, so a crashed builder frees it at once.
// Waiters never hang: they poll (cheaply: is the lock still held?) and give up after `wait_timeout`, then
// build themselves. When the Redis lock service cannot be reached, SingleFlight warns once and uses the
// file lock, so a dead remote degrades to per-host single-flight instead of failing the build.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graphcache/redis_store.hpp"
#include "graphcache/store.hpp"

namespace graphcache {

// A held build lock; destroying it releases it.
class BuildLock {
 public:
  virtual ~BuildLock() = default;
  // False once the lock was found lost (expired while the holder stalled longer than the TTL).
  virtual bool still_held() const = 0;
};

class LockService {
 public:
  virtual ~LockService() = default;
  // One attempt; nullptr when another holder has it. Throws Error(kIo) when the service is unreachable.
  virtual std::unique_ptr<BuildLock> try_acquire(const Key& key) = 0;
  // Whether anyone holds the lock now (a cheap probe for waiters). Throws Error(kIo) when unreachable.
  virtual bool is_held(const Key& key) = 0;
  // Who holds the lock, as far as the service can tell (file locks: "pid N on HOST since T"), for
  // messages to a waiting user; empty when unknown. Never throws.
  virtual std::string holder(const Key&) { return {}; }
  virtual std::string name() const = 0;
};

class RedisLockService final : public LockService {
 public:
  // `ttl` is the lock's expiry; a holder refreshes it every ttl/3.
  RedisLockService(RedisConfig config, std::chrono::milliseconds ttl, WarningSink warn = {});
  ~RedisLockService() override;
  std::unique_ptr<BuildLock> try_acquire(const Key& key) override;
  bool is_held(const Key& key) override;
  std::string name() const override { return "redis"; }

  struct Impl;  // shared with the locks it hands out (they must not outlive the service)

 private:
  std::unique_ptr<Impl> impl_;
};

class FileLockService final : public LockService {
 public:
  // Creates `dir` if needed; throws Error(kIo) if it cannot.
  explicit FileLockService(std::string dir);
  std::unique_ptr<BuildLock> try_acquire(const Key& key) override;
  bool is_held(const Key& key) override;
  std::string holder(const Key& key) override;
  std::string name() const override { return "file"; }

 private:
  std::string dir_;
};

// What a build produces: the engine in memory, or in a file (streamed into the store, not loaded).
struct BuiltEngine {
  std::vector<uint8_t> bytes;
  std::string file_path;  // used when non-empty
  EntryMetadata metadata;
};
using BuildFunction = std::function<BuiltEngine()>;

struct SingleFlightOptions {
  std::chrono::milliseconds wait_timeout{std::chrono::minutes(30)};  // then build here anyway
  std::chrono::milliseconds poll_interval{100};
  std::chrono::milliseconds primary_retry_after{std::chrono::seconds(30)};  // after the primary lock failed
  // Called when a waiter starts waiting for another builder and then every wait_report_interval, with a
  // line naming the key, the holder (LockService::holder) and the time waited: a build can take an hour,
  // and a silent job looks hung. Unset: silent.
  std::function<void(const std::string&)> on_wait;
  std::chrono::milliseconds wait_report_interval{std::chrono::seconds(10)};
};

struct GetOrBuildResult {
  enum class Source { kCache, kBuilt, kWaited };
  Entry entry;
  Source source = Source::kCache;
};

class SingleFlight {
 public:
  // `store` is usually a LayeredStore. `primary` is tried first (normally Redis); `fallback` (normally
  // a FileLockService) is used while the primary is unreachable. Either may be null, not both.
  SingleFlight(Store& store, std::unique_ptr<LockService> primary, std::unique_ptr<LockService> fallback,
               SingleFlightOptions options = {}, WarningSink warn = {});
  ~SingleFlight();

  // Returns the entry for `key`, building it with `build` if no one has. Exceptions from `build`
  // propagate (the lock is released). A failing put is reported as a warning: the built engine is
  // still returned.
  GetOrBuildResult get_or_build(const Key& key, const BuildFunction& build);

  // The lock alone, for callers that look up, build and store themselves (the Python EngineCache):
  // waits until this process holds the build lock of `key` (primary, or fallback while the primary is
  // unreachable) and returns it; nullptr once `wait` has passed. The lock must not outlive this object.
  std::unique_ptr<BuildLock> acquire(const Key& key, std::chrono::milliseconds wait);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// make_single_flight(store, config) in open_store.hpp picks the lock services a StoreConfig calls for.

}  // namespace graphcache
