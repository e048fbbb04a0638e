// The explain index: one small record per entry that recorded its key factors (src/explain), so that
// `graphcache explain` finds the nearest entries without reading every entry.
//
// A record is built from three fields of the entry's metadata `extra` map, written by src/explain:
//   graphcache.factors            JSON of the readable factors (key, structure digest, settings...)
//   graphcache.minhash            hex of kMinHashSize 32-bit MinHash values over the node digests
//   graphcache.structure_summary  (not in the record: read from the one entry being explained against)
//
// Local tier: <cache dir>/explain.index, an append-only log of checksummed records (one write() each,
// O_APPEND, so concurrent writers never interleave). Removals append a tombstone; `clear` deletes the
// file. A missing file or any bad record makes load() rebuild it from the entries' metadata; a log with
// many dead records is rewritten (temp file + rename). A put racing that rewrite can lose its record:
// the entry is then only missing from explanations until the next rebuild, never served wrongly.
// Redis tier: the hash <prefix>x:index (field = raw key, value = record), updated by put / remove.
//
// The index is a hint for explanations only: no failure here may fail a put, get or remove.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graphcache/store.hpp"

namespace graphcache::redis {
class Connection;
}

namespace graphcache::store {

inline constexpr std::string_view kFactorsField = "graphcache.factors";
inline constexpr std::string_view kMinHashField = "graphcache.minhash";
inline constexpr std::string_view kSummaryField = "graphcache.structure_summary";
inline constexpr size_t kMinHashSize = 64;
inline constexpr size_t kMaxRecordBytes = 64 << 10;  // a record with larger factors is not indexed

struct IndexRecord {
  Key key;
  Digest structure;
  std::array<uint32_t, kMinHashSize> minhash{};
  std::string factors;  // the JSON text of graphcache.factors
};

// nullopt when the metadata records no factors, or they are malformed or belong to another key.
std::optional<IndexRecord> index_record_from(const Key& key, const EntryMetadata& metadata);
std::string encode_index_record(const IndexRecord& record);
std::optional<IndexRecord> decode_index_record(std::string_view bytes);

std::string local_index_path(const std::string& cache_dir);
void local_index_note_put(const std::string& cache_dir, const Key& key,
                          const EntryMetadata& metadata) noexcept;
void local_index_note_remove(const std::string& cache_dir, const Key& key) noexcept;
void local_index_note_clear(const std::string& cache_dir) noexcept;
// The live records (last put of each key, minus removals). Rebuilds or compacts the file as described
// above; entries evicted by gc may still be listed (callers check the entry exists).
std::vector<IndexRecord> local_index_load(const std::string& cache_dir);
// The metadata of a local entry, reading only header and metadata (checked by the header checksum);
// nullopt if absent or corrupt.
std::optional<EntryMetadata> local_entry_metadata(const std::string& cache_dir, const Key& key);

void redis_index_note_put(redis::Connection& c, const std::string& prefix, const Key& key,
                          const EntryMetadata& metadata) noexcept;
void redis_index_note_remove(redis::Connection& c, const std::string& prefix, const Key& key) noexcept;
// Throws Error(kIo) when the server fails; bad records are skipped.
std::vector<IndexRecord> redis_index_load(redis::Connection& c, const std::string& prefix);
// The metadata in an entry's manifest (no chunk is read); nullopt if absent or corrupt.
std::optional<EntryMetadata> redis_entry_metadata(redis::Connection& c, const std::string& prefix,
                                                  const Key& key);

}  // namespace graphcache::store
