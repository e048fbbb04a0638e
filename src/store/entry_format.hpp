// The on-disk entry format, version 1 (all integers little-endian):
//
//   offset size  field
//        0    8  magic "GCENGINE"
//        8    4  format version (1)
//       12    4  flags (bit 0: payload is one zstd frame)
//       16   32  key (raw digest bytes; must match the file name)
//       48    8  created (unix seconds)
//       56    8  metadata size M
//       64    8  payload size P (as stored)
//       72    8  engine size (uncompressed)
//       80    8  payload checksum: XXH3-64 of the P stored payload bytes
//       88    8  header checksum: XXH3-64 of bytes [0, 88) followed by the M metadata bytes
//       96    M  metadata (JSON object, see serialize_metadata)
//     96+M    P  payload
// The file is exactly 96 + M + P bytes; anything else is truncated or padded, i.e. corrupt.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "graphcache/store.hpp"

namespace graphcache::store {

inline constexpr std::string_view kEntryMagic{"GCENGINE", 8};
inline constexpr uint32_t kEntryFormatVersion = 1;
inline constexpr uint32_t kFlagZstd = 1u;
inline constexpr size_t kEntryHeaderSize = 96;

// Engine bytes owned in memory (decompressed payloads, reassembled Redis chunks). The allocation is at
// least one byte so that data() is never null, even for an empty engine.
class BufferBlob final : public EngineBlob {
 public:
  explicit BufferBlob(uint64_t size)
      : bytes_(std::make_unique_for_overwrite<uint8_t[]>(std::max<uint64_t>(size, 1))), size_(size) {}
  BufferBlob(std::unique_ptr<uint8_t[]> bytes, uint64_t size) : bytes_(std::move(bytes)), size_(size) {}
  const uint8_t* data() const override { return bytes_.get(); }
  uint8_t* mutable_data() { return bytes_.get(); }
  uint64_t size() const override { return size_; }

 private:
  std::unique_ptr<uint8_t[]> bytes_;
  uint64_t size_;
};

// Engine bytes in anonymous memory of their own. Without `populate` only address space is reserved and
// pages become memory as bytes are written (a Redis manifest claiming gigabytes costs nothing until they
// arrive); with it every page is faulted in up front, in one call (a local get that fills all of it), and
// transparent huge pages are asked for, which makes filling a large buffer several times cheaper.
// Throws std::bad_alloc when the space cannot be had.
class ReservedBlob final : public EngineBlob {
 public:
  ReservedBlob(uint64_t size, bool populate) : size_(size) {
    if (size == 0) return;
    void* p =
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    bytes_ = static_cast<uint8_t*>(p);
    if (populate) {
      ::madvise(p, size, MADV_HUGEPAGE);        // a hint; fine if THP is off
      ::madvise(p, size, MADV_POPULATE_WRITE);  // one call instead of a fault per page
    }
  }
  ~ReservedBlob() override {
    if (bytes_ != nullptr) ::munmap(bytes_, size_);
  }
  ReservedBlob(const ReservedBlob&) = delete;
  ReservedBlob& operator=(const ReservedBlob&) = delete;
  const uint8_t* data() const override { return bytes_ != nullptr ? bytes_ : &empty_; }
  uint8_t* mutable_data() { return bytes_ != nullptr ? bytes_ : &empty_; }
  uint64_t size() const override { return size_; }

 private:
  uint8_t* bytes_ = nullptr;
  uint8_t empty_ = 0;
  uint64_t size_;
};

// Engine bytes a caller built in a std::vector (single-flight builds), kept without a copy.
class VectorBlob final : public EngineBlob {
 public:
  explicit VectorBlob(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  const uint8_t* data() const override { return bytes_.data(); }
  uint64_t size() const override { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

// Little-endian fields of the header (the format assumes a little-endian host).
template <typename T>
void put_le(uint8_t* out, T value) {
  std::memcpy(out, &value, sizeof(T));
}

template <typename T>
T get_le(const uint8_t* in) {
  T value;
  std::memcpy(&value, in, sizeof(T));
  return value;
}

struct EntryHeader {
  uint32_t version = kEntryFormatVersion;
  uint32_t flags = 0;
  Key key;
  int64_t created_unix = 0;
  uint64_t metadata_size = 0;
  uint64_t payload_size = 0;
  uint64_t engine_size = 0;
  uint64_t payload_checksum = 0;
  uint64_t header_checksum = 0;
};

std::string serialize_metadata(const EntryMetadata& metadata);
// Throws Error(kCorrupt) if `json` is not a metadata object of the expected shape.
EntryMetadata parse_metadata(std::string_view json);

// Reads the fixed header from the first kEntryHeaderSize bytes of `data` (size >= kEntryHeaderSize) and
// checks magic and version. Throws Error(kCorrupt) naming the problem. Checksums are not checked here.
EntryHeader parse_header(const uint8_t* data, uint64_t size);

struct WriteOptions {
  bool compress = false;
  int compress_level = 3;
};

// Writes a complete entry to `fd` (positioned at 0, empty), streaming the engine from memory or from its
// file. Returns the bytes written. Throws Error(kIo) on any read/write failure (ENOSPC included) and
// Error(kInvalidArgument) if the engine file cannot be opened.
uint64_t write_entry(int fd, const Key& key, const EngineSource& engine, EntryMetadata metadata,
                     const WriteOptions& options);

struct DecodedEntry {
  EntryHeader header;
  EntryMetadata metadata;
  const uint8_t* payload = nullptr;  // points into the caller's buffer
};

// Checks an entire entry held in memory (e.g. mapped): sizes, both checksums, and that it is the entry
// for `expected_key`. Throws Error(kCorrupt) naming the first problem found.
DecodedEntry decode_entry(const uint8_t* data, uint64_t size, const Key& expected_key);

// Returns the engine bytes of a decoded entry: a view into `mapping` when stored uncompressed (keeping
// the mapping alive), or a freshly decompressed buffer. Throws Error(kCorrupt) if decompression fails or
// yields a different size than recorded.
std::shared_ptr<const EngineBlob> engine_blob(const DecodedEntry& entry,
                                              std::shared_ptr<const EngineBlob> mapping);

}  // namespace graphcache::store
