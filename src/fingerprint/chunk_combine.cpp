// The fingerprint definition shared by every implementation: chunk hashing and the ordered SHA-256
// combine (see include/graphcache/fingerprint.hpp for the byte layout and the collision argument).
#include <openssl/evp.h>
#include <xxhash.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"

namespace graphcache {
namespace {

constexpr std::string_view kFastDomain = "graphcache.weights.v1/xxh3-128";
constexpr std::string_view kSecureDomain = "graphcache.weights.v1/sha-256";

struct EvpContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

class Sha256Stream {
 public:
  Sha256Stream() : context_(EVP_MD_CTX_new()) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
      throw Error(ErrorKind::kInternal, "OpenSSL: cannot initialise SHA-256");
    }
  }
  void bytes(const void* data, size_t size) {
    if (size != 0 && EVP_DigestUpdate(context_.get(), data, size) != 1) {
      throw Error(ErrorKind::kInternal, "OpenSSL: SHA-256 update failed");
    }
  }
  void u64(uint64_t value) {
    uint8_t le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(value >> (8 * i));
    bytes(le, sizeof le);
  }
  Digest finish() {
    Digest digest;
    unsigned size = 0;
    if (EVP_DigestFinal_ex(context_.get(), digest.bytes.data(), &size) != 1 || size != digest.bytes.size()) {
      throw Error(ErrorKind::kInternal, "OpenSSL: SHA-256 final failed");
    }
    return digest;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, EvpContextDeleter> context_;
};

}  // namespace

size_t chunk_digest_size(FingerprintMode mode) noexcept {
  return mode == FingerprintMode::kFast ? 16 : 32;
}

void hash_chunk(const void* data, uint64_t length, FingerprintMode mode, uint8_t* out_digest) {
  if (mode == FingerprintMode::kFast) {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, length));
    std::copy(std::begin(canonical.digest), std::end(canonical.digest), out_digest);
    return;
  }
  unsigned size = 0;
  if (EVP_Digest(data, length, out_digest, &size, EVP_sha256(), nullptr) != 1 || size != 32) {
    throw Error(ErrorKind::kInternal, "OpenSSL: SHA-256 of a chunk failed");
  }
}

Digest combine_chunk_digests(std::span<const SlotLayout> slots, std::span<const uint8_t> chunk_digests,
                             FingerprintMode mode) {
  const size_t digest_size = chunk_digest_size(mode);
  uint64_t expected_chunks = 0;
  for (const SlotLayout& slot : slots) expected_chunks += chunk_count(slot.length);
  if (chunk_digests.size() != expected_chunks * digest_size) {
    throw Error(ErrorKind::kInvalidArgument,
                "fingerprint combine: got " + std::to_string(chunk_digests.size()) +
                    " digest bytes, the slots need " + std::to_string(expected_chunks * digest_size));
  }
  const std::string_view domain = mode == FingerprintMode::kFast ? kFastDomain : kSecureDomain;
  Sha256Stream sha;
  sha.u64(domain.size());
  sha.bytes(domain.data(), domain.size());
  sha.u64(kFingerprintChunkBytes);
  sha.u64(slots.size());
  const uint8_t* next_digest = chunk_digests.data();
  for (const SlotLayout& slot : slots) {
    sha.u64(static_cast<uint64_t>(static_cast<int64_t>(slot.dtype)));
    sha.u64(slot.dims.size());
    for (int64_t dim : slot.dims) sha.u64(static_cast<uint64_t>(dim));
    sha.u64(slot.length);
    const size_t bytes = chunk_count(slot.length) * digest_size;
    sha.bytes(next_digest, bytes);
    next_digest += bytes;
  }
  return sha.finish();
}

}  // namespace graphcache
