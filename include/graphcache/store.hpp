// Engine stores. An entry is an engine blob plus metadata. A store never serves a partial, corrupt or
// mismatched entry: such an entry is a miss (reported through the warning sink, counted, and removed or
// quarantined), never an exception. I/O failures on put (disk full, unreachable server) throw
// graphcache::Error(kIo) and leave nothing behind.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"

namespace graphcache {

struct EntryMetadata {
  std::map<std::string, std::string> key_parts;  // part name -> hex / value (structure, settings...)
  std::vector<std::string> input_names, output_names;
  std::vector<std::string> weight_slots;  // weight names in canonical slot order
  std::optional<Digest> weight_fingerprint;
  std::string refit_mode;                            // "none", "refittable", "refit_identical"...
  std::map<std::string, std::string> tool_versions;  // producing tool -> version
  std::map<std::string, std::string> extra;          // caller-defined, small
  int64_t created_unix = 0;                          // filled by the store on put if 0
  // Kept after every other field: "ed25519:<public key hex>:<signature hex>" or empty (signing.hpp).
  std::string signature;
  bool operator==(const EntryMetadata&) const = default;
};

// The engine bytes of an entry that was read. `data()` stays valid while the object lives (it may be an
// mmap of the entry file: eviction of a mapped entry does not disturb a reader).
class EngineBlob {
 public:
  virtual ~EngineBlob() = default;
  virtual const uint8_t* data() const = 0;
  virtual uint64_t size() const = 0;
};

struct Entry {
  EntryMetadata metadata;
  std::shared_ptr<const EngineBlob> engine;
};

struct EntryInfo {
  Key key;
  uint64_t stored_bytes = 0;  // on disk / in the tier, including header and metadata
  uint64_t engine_bytes = 0;
  int64_t created_unix = 0;
  int64_t last_used_unix = 0;
};

struct StoreStats {
  uint64_t hits = 0, misses = 0, puts = 0, evictions = 0, corrupt = 0, errors = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t entries = 0, stored_bytes = 0;  // current contents
  uint64_t untrusted = 0;  // entries refused because require_signature found no trusted signature
};

// Where the engine bytes of a put come from: memory or a file (streamed, never loaded whole).
struct EngineSource {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  std::string file_path;  // used when non-empty
  static EngineSource from_memory(const void* p, uint64_t n) {
    return EngineSource{static_cast<const uint8_t*>(p), n, {}};
  }
  static EngineSource from_file(std::string path) { return EngineSource{nullptr, 0, std::move(path)}; }
};

using WarningSink = std::function<void(const std::string&)>;

class Store {
 public:
  virtual ~Store() = default;
  virtual std::optional<Entry> get(const Key& key) = 0;
  // A get that is not a lookup of its own: it counts neither a hit nor a miss and does not mark the entry
  // used. For re-checks inside one lookup (single-flight after taking the lock, reading back a build),
  // so that stats say one lookup = one hit or one miss. Corrupt entries are still counted and removed.
  virtual std::optional<Entry> peek(const Key& key) { return get(key); }
  virtual void put(const Key& key, const EngineSource& engine, const EntryMetadata& metadata) = 0;
  virtual bool remove(const Key& key) = 0;
  virtual std::vector<EntryInfo> list() = 0;
  virtual StoreStats stats() = 0;
  // Per-tier stats for layered stores: tier name -> stats. Single tiers return {{name(), stats()}}.
  virtual std::map<std::string, StoreStats> tier_stats() { return {{name(), stats()}}; }
  virtual std::string name() const = 0;
};

}  // namespace graphcache
