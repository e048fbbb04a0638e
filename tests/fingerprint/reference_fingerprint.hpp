// A plain single-threaded implementation of the fingerprint definition (fingerprint.hpp), written
// independently of src/fingerprint so the tests compare two implementations, not one with itself.
#pragma once

#include <openssl/evp.h>
#include <xxhash.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"
#include "graphcache/fingerprint.hpp"

namespace graphcache::testing {

struct ReferenceSlot {
  ir::DType dtype;
  std::vector<int64_t> dims;
  uint64_t length;
  // Copies `size` bytes starting at `offset` of the slot into `out`.
  std::function<void(uint64_t offset, uint64_t size, uint8_t* out)> read;
};

inline void append_u64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

inline Digest reference_fingerprint(const std::vector<ReferenceSlot>& slots,
                                    FingerprintMode mode = FingerprintMode::kFast) {
  const std::string domain =
      mode == FingerprintMode::kFast ? "graphcache.weights.v1/xxh3-128" : "graphcache.weights.v1/sha-256";
  std::string stream;
  append_u64(stream, domain.size());
  stream += domain;
  append_u64(stream, 1u << 20);
  append_u64(stream, slots.size());
  std::vector<uint8_t> chunk(1u << 20);
  for (const ReferenceSlot& slot : slots) {
    append_u64(stream, static_cast<uint64_t>(static_cast<int64_t>(slot.dtype)));
    append_u64(stream, slot.dims.size());
    for (int64_t dim : slot.dims) append_u64(stream, static_cast<uint64_t>(dim));
    append_u64(stream, slot.length);
    for (uint64_t offset = 0; offset < slot.length; offset += chunk.size()) {
      const uint64_t size = std::min<uint64_t>(chunk.size(), slot.length - offset);
      slot.read(offset, size, chunk.data());
      if (mode == FingerprintMode::kFast) {
        const XXH128_hash_t hash = XXH3_128bits(chunk.data(), size);
        for (int i = 7; i >= 0; --i) stream.push_back(static_cast<char>(hash.high64 >> (8 * i)));
        for (int i = 7; i >= 0; --i) stream.push_back(static_cast<char>(hash.low64 >> (8 * i)));
      } else {
        uint8_t sha[32];
        EVP_Digest(chunk.data(), size, sha, nullptr, EVP_sha256(), nullptr);
        stream.append(reinterpret_cast<const char*>(sha), sizeof sha);
      }
    }
  }
  Digest digest;
  EVP_Digest(stream.data(), stream.size(), digest.bytes.data(), nullptr, EVP_sha256(), nullptr);
  return digest;
}

}  // namespace graphcache::testing
