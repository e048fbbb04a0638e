// The manifest of a chunked entry in Redis, version 1 (integers little-endian):
//
//   offset size  field
//        0    8  magic "GCREDIS1"
//        8    4  format version (1)
//       12    4  chunk count N (== ceil(engine size / chunk bytes))
//       16   32  key (raw digest bytes; must match the Redis key it is stored under)
//       48    8  created (unix seconds)
//       56    8  engine size
//       64    8  chunk bytes (every chunk but the last is exactly this long)
//       72    8  generation (random per put; names the chunk keys, so concurrent puts never mix chunks)
//       80    8  metadata size M
//       88   8N  XXH3-64 of each chunk
//    88+8N    M  metadata (the local store's JSON, src/store/entry_format.hpp serialize_metadata)
//  88+8N+M    8  XXH3-64 of everything before it
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graphcache/store.hpp"

namespace graphcache::redis {

struct Manifest {
  Key key;
  int64_t created_unix = 0;
  uint64_t engine_size = 0;
  uint64_t chunk_bytes = 0;
  uint64_t generation = 0;
  std::vector<uint64_t> chunk_checksums;
  EntryMetadata metadata;

  uint64_t chunk_size(size_t index) const;
  static uint32_t chunk_count_for(uint64_t engine_size, uint64_t chunk_bytes);
};

std::string encode_manifest(const Manifest& manifest);
// Checks magic, version, sizes, the trailing checksum and that the manifest belongs to `expected_key`.
// Throws Error(kCorrupt) naming the first problem.
Manifest decode_manifest(std::string_view bytes, const Key& expected_key);

uint64_t chunk_checksum(const void* data, size_t size);

}  // namespace graphcache::redis
