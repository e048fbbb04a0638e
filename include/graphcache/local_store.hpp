// The local disk tier of the engine cache.
//
// Layout: <dir>/<aa>/<bb>/<key hex> (two fan-out levels from the key's first two bytes, so no directory
// holds more than a few entries even at 100k+ entries), <dir>/stats/ (counter shards), <dir>/gc.lock.
// Entry files use the versioned binary format of src/store/entry_format.hpp.
//
// Concurrency: many threads and processes may use one directory at once.
//  - put writes <dir>/<aa>/<bb>/.tmp.<key>.<host>.<pid>.<random>, fsyncs it and rename()s it over the
//    final name, so a reader sees either the old entry, the new one or none - never a partial file. A
//    writer killed midway leaves only a temp file, which gc/verify remove (dead pid on this host, or
//    older than stale_temp_minutes).
//  - get maps the entry read-only and verifies its checksums once. Eviction and remove unlink files;
//    on POSIX an unlinked file stays intact for whoever still has it open or mapped, so an entry being
//    read is never broken by eviction (entries are replaced by rename, never rewritten in place).
//  - last use is the file's atime, set with futimens on a hit (no lock; at most once per minute per entry).
//  - counters live in 16 shard files updated under flock (shard = pid % 16), summed on read; exact across
//    processes. Current size / entry count is tracked incrementally and re-synced exactly by gc/verify.
//  - gc takes <dir>/gc.lock; a put that finds the cache over a cap runs gc unless one is already running.
// Corrupt, truncated, version-mismatched or misplaced entries are misses: reported through the warning
// sink, counted in `corrupt`, and removed. Only put/remove/gc/clear throw (Error kIo / kInvalidArgument).
#pragma once

#include <memory>
#include <string>

#include "graphcache/store.hpp"
#include "graphcache/store_config.hpp"

namespace graphcache {

struct GcReport {
  uint64_t entries_before = 0, bytes_before = 0;
  uint64_t entries_after = 0, bytes_after = 0;
  uint64_t evicted = 0, stale_temps_removed = 0;
};

struct VerifyReport {
  uint64_t checked = 0, ok = 0, corrupt = 0, stale_temps_removed = 0;
  uint64_t entries = 0, stored_bytes = 0;  // what remains
  // Signature status of the entries that passed (signing.hpp); `untrusted`: refused by require_signature
  // (kept, not removed: another reader may trust their signer).
  uint64_t signed_trusted = 0, signed_unknown_key = 0, bad_signature = 0, unsigned_entries = 0;
  uint64_t untrusted = 0;
};

class LocalStore : public Store {
 public:
  // Creates the directory if needed. Throws Error(kIo) if it cannot be created or written.
  explicit LocalStore(StoreConfig config, WarningSink warnings = {});
  ~LocalStore() override;
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  std::optional<Entry> get(const Key& key) override;
  std::optional<Entry> peek(const Key& key) override;
  void put(const Key& key, const EngineSource& engine, const EntryMetadata& metadata) override;
  bool remove(const Key& key) override;
  std::vector<EntryInfo> list() override;
  StoreStats stats() override;
  std::string name() const override { return "local"; }

  // Evicts least recently used entries until the cache is within the caps (times gc_target when any
  // eviction is needed). Overrides: 0 keeps the configured cap. Also removes stale temp files.
  GcReport gc(uint64_t max_size = 0, uint64_t max_entries = 0);
  // Fully checks every entry (checksums, decompression); corrupt ones are counted and removed.
  VerifyReport verify();
  // Removes every entry and temp file (counters are kept; see zero_stats).
  uint64_t clear();
  void zero_stats();

  // Renames `path`, a complete entry file for `key` already verified by the caller and on this cache's
  // file system (bundle import stages there), into place; counted and added to the explain index as a put.
  // Throws Error(kIo).
  void adopt_entry_file(const Key& key, const std::string& path);

  const StoreConfig& config() const;
  std::string entry_path(const Key& key) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace graphcache
