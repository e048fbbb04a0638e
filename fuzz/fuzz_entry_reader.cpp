// Store entry reader on arbitrary bytes. The first input byte picks the path:
//   bit 0: "fix up" the header (magic, version, key, consistent sizes, both XXH3 checksums) so the
//          fuzzer reaches metadata JSON parsing and zstd decompression instead of stopping at the
//          checksum gate; otherwise the bytes are used verbatim;
//   bit 1: write the bytes as the entry file of a real LocalStore and `get` it (open, mmap, decode,
//          discard-on-corrupt); otherwise decode_entry + engine_blob run on the in-memory buffer.
// Either way the reader must return an entry, a miss, or throw graphcache::Error(kCorrupt).
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "entry_format.hpp"
#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "scratch_store.hpp"

namespace {

const graphcache::Key kKey = graphcache::Digest::from_hex(std::string(64, 'c'));

// Makes `entry` structurally valid (sizes, key, checksums) while keeping the fuzzed flags, engine size,
// creation time, metadata and payload bytes.
void fix_up(std::vector<uint8_t>& entry) {
  using namespace graphcache::store;
  if (entry.size() < kEntryHeaderSize) entry.resize(kEntryHeaderSize, 0);
  uint8_t* h = entry.data();
  std::memcpy(h, kEntryMagic.data(), kEntryMagic.size());
  put_le<uint32_t>(h + 8, kEntryFormatVersion);
  std::memcpy(h + 16, kKey.bytes.data(), kKey.bytes.size());
  const uint64_t body = entry.size() - kEntryHeaderSize;
  const uint64_t metadata_size = get_le<uint64_t>(h + 56) % (body + 1);
  const uint64_t payload_size = body - metadata_size;
  put_le<uint64_t>(h + 56, metadata_size);
  put_le<uint64_t>(h + 64, payload_size);
  if (!(get_le<uint32_t>(h + 12) & kFlagZstd)) put_le<uint64_t>(h + 72, payload_size);
  const uint8_t* payload = h + kEntryHeaderSize + metadata_size;
  put_le<uint64_t>(h + 80, XXH3_64bits(payload, payload_size));
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, h, 88);
  XXH3_64bits_update(&state, h + kEntryHeaderSize, metadata_size);
  put_le<uint64_t>(h + 88, XXH3_64bits_digest(&state));
}

// Reads every engine byte so ASan sees any out-of-bounds view.
void touch(const graphcache::EngineBlob& blob) {
  volatile uint8_t sum = 0;
  for (uint64_t i = 0; i < blob.size(); ++i) sum = static_cast<uint8_t>(sum + blob.data()[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::vector<uint8_t> entry(data + 1, data + size);
  if (mode & 1) fix_up(entry);

  if (mode & 2) {
    graphcache::LocalStore& local = graphcache::fuzz::scratch_store();
    const std::string path = local.entry_path(kKey);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(entry.data()), static_cast<std::streamsize>(entry.size()));
    }
    // get() must never throw: corrupt entries are a miss (and removed).
    if (auto hit = local.get(kKey)) touch(*hit->engine);
    local.remove(kKey);
    return 0;
  }

  auto buffer = std::make_shared<graphcache::store::VectorBlob>(std::move(entry));
  try {
    const auto decoded = graphcache::store::decode_entry(buffer->data(), buffer->size(), kKey);
    touch(*graphcache::store::engine_blob(decoded, buffer));
  } catch (const graphcache::Error& e) {
    if (e.kind() != graphcache::ErrorKind::kCorrupt) std::abort();
  }
  return 0;
}
