#include "redis_manifest.hpp"

#include <xxhash.h>

#include <bit>
#include <cstring>

#include "entry_format.hpp"
#include "graphcache/error.hpp"

namespace graphcache::redis {
namespace {

static_assert(std::endian::native == std::endian::little, "the manifest writer assumes a little-endian host");

constexpr std::string_view kMagic{"GCREDIS1", 8};
constexpr uint32_t kVersion = 1;
constexpr size_t kFixedSize = 88;
constexpr uint32_t kMaxChunks = 1u << 20;
constexpr uint64_t kMaxChunkBytes = 512ull << 20;  // the largest chunk_mib a writer may configure

template <typename T>
void put_int(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <typename T>
T get_int(std::string_view bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(value));
  return value;
}

[[noreturn]] void corrupt(const std::string& why) {
  throw Error(ErrorKind::kCorrupt, "redis manifest: " + why);
}

}  // namespace

uint64_t chunk_checksum(const void* data, size_t size) {
  return XXH3_64bits(data, size);
}

uint32_t Manifest::chunk_count_for(uint64_t engine_size, uint64_t chunk_bytes) {
  return static_cast<uint32_t>((engine_size + chunk_bytes - 1) / chunk_bytes);
}

uint64_t Manifest::chunk_size(size_t index) const {
  const uint64_t start = index * chunk_bytes;
  return std::min(chunk_bytes, engine_size - start);
}

std::string encode_manifest(const Manifest& manifest) {
  const std::string metadata = store::serialize_metadata(manifest.metadata);
  std::string out;
  out.reserve(kFixedSize + 8 * manifest.chunk_checksums.size() + metadata.size() + 8);
  out.append(kMagic);
  put_int<uint32_t>(out, kVersion);
  put_int<uint32_t>(out, static_cast<uint32_t>(manifest.chunk_checksums.size()));
  out.append(reinterpret_cast<const char*>(manifest.key.bytes.data()), manifest.key.bytes.size());
  put_int<int64_t>(out, manifest.created_unix);
  put_int<uint64_t>(out, manifest.engine_size);
  put_int<uint64_t>(out, manifest.chunk_bytes);
  put_int<uint64_t>(out, manifest.generation);
  put_int<uint64_t>(out, metadata.size());
  for (uint64_t checksum : manifest.chunk_checksums) put_int<uint64_t>(out, checksum);
  out += metadata;
  put_int<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

Manifest decode_manifest(std::string_view bytes, const Key& expected_key) {
  if (bytes.size() < kFixedSize + 8) corrupt("truncated (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes.substr(0, 8) != kMagic) corrupt("bad magic");
  if (const auto version = get_int<uint32_t>(bytes, 8); version != kVersion) {
    corrupt("unsupported version " + std::to_string(version));
  }
  const auto stored_checksum = get_int<uint64_t>(bytes, bytes.size() - 8);
  if (XXH3_64bits(bytes.data(), bytes.size() - 8) != stored_checksum) corrupt("checksum mismatch");

  Manifest manifest;
  const auto chunk_count = get_int<uint32_t>(bytes, 12);
  std::memcpy(manifest.key.bytes.data(), bytes.data() + 16, manifest.key.bytes.size());
  if (manifest.key != expected_key) corrupt("stored under the wrong key");
  manifest.created_unix = get_int<int64_t>(bytes, 48);
  manifest.engine_size = get_int<uint64_t>(bytes, 56);
  manifest.chunk_bytes = get_int<uint64_t>(bytes, 64);
  manifest.generation = get_int<uint64_t>(bytes, 72);
  const auto metadata_size = get_int<uint64_t>(bytes, 80);
  if (manifest.chunk_bytes == 0 || manifest.chunk_bytes > kMaxChunkBytes || chunk_count > kMaxChunks ||
      chunk_count != Manifest::chunk_count_for(manifest.engine_size, manifest.chunk_bytes)) {
    corrupt("inconsistent engine size / chunk size / chunk count");
  }
  if (kFixedSize + 8ull * chunk_count + metadata_size + 8 != bytes.size()) corrupt("size mismatch");
  manifest.chunk_checksums.resize(chunk_count);
  for (uint32_t i = 0; i < chunk_count; ++i)
    manifest.chunk_checksums[i] = get_int<uint64_t>(bytes, kFixedSize + 8 * i);
  manifest.metadata = store::parse_metadata(bytes.substr(kFixedSize + 8ull * chunk_count, metadata_size));
  return manifest;
}

}  // namespace graphcache::redis
