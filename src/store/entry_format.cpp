#include "entry_format.hpp"

#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/atomic_file.hpp"
#include "engine_chunk_reader.hpp"
#include "graphcache/error.hpp"

namespace graphcache::store {
namespace {

static_assert(std::endian::native == std::endian::little, "entry format is written in host order");

constexpr size_t kHeaderChecksumOffset = 88;
constexpr size_t kIoChunk = 4 << 20;

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::kCorrupt, what);
}

[[noreturn]] void io_error(const std::string& what, int err) {
  throw Error(ErrorKind::kIo, what + ": " + std::strerror(err));
}

void encode_header(const EntryHeader& h, uint8_t* out) {
  std::memset(out, 0, kEntryHeaderSize);
  std::memcpy(out, kEntryMagic.data(), kEntryMagic.size());
  put_le(out + 8, h.version);
  put_le(out + 12, h.flags);
  std::memcpy(out + 16, h.key.bytes.data(), h.key.bytes.size());
  put_le(out + 48, h.created_unix);
  put_le(out + 56, h.metadata_size);
  put_le(out + 64, h.payload_size);
  put_le(out + 72, h.engine_size);
  put_le(out + 80, h.payload_checksum);
  put_le(out + 88, h.header_checksum);
}

uint64_t header_checksum(const uint8_t* header, const uint8_t* metadata, uint64_t metadata_size) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header, kHeaderChecksumOffset);
  XXH3_64bits_update(&state, metadata, metadata_size);
  return XXH3_64bits_digest(&state);
}

void write_all(int fd, const void* data, size_t size) {
  graphcache::write_all(fd, data, size, "cache entry");
}

// Sinks payload bytes into the file, hashing what is stored and compressing on the way if asked.
class PayloadWriter {
 public:
  PayloadWriter(int fd, const WriteOptions& options, uint64_t engine_size) : fd_(fd) {
    XXH3_64bits_reset(&hash_);
    if (options.compress) {
      cctx_ = ZSTD_createCCtx();
      if (!cctx_) throw Error(ErrorKind::kInternal, "cannot create zstd context");
      ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, options.compress_level);
      ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 0);  // the entry has its own checksum
      ZSTD_CCtx_setPledgedSrcSize(cctx_, engine_size);
      out_.resize(ZSTD_CStreamOutSize());
    }
  }
  ~PayloadWriter() { ZSTD_freeCCtx(cctx_); }
  PayloadWriter(const PayloadWriter&) = delete;
  PayloadWriter& operator=(const PayloadWriter&) = delete;

  void add(const uint8_t* data, size_t size) {
    if (!cctx_) {
      emit(data, size);
      return;
    }
    ZSTD_inBuffer in{data, size, 0};
    while (in.pos < in.size) compress_step(&in, ZSTD_e_continue);
  }

  void finish() {
    if (!cctx_) return;
    ZSTD_inBuffer in{nullptr, 0, 0};
    while (compress_step(&in, ZSTD_e_end) != 0) {
    }
  }

  uint64_t stored_size() const { return stored_; }
  uint64_t checksum() { return XXH3_64bits_digest(&hash_); }

 private:
  size_t compress_step(ZSTD_inBuffer* in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t remaining = ZSTD_compressStream2(cctx_, &out, in, mode);
    if (ZSTD_isError(remaining)) {
      throw Error(ErrorKind::kInternal,
                  std::string("zstd compression failed: ") + ZSTD_getErrorName(remaining));
    }
    emit(out_.data(), out.pos);
    return remaining;
  }

  void emit(const uint8_t* data, size_t size) {
    if (size == 0) return;
    XXH3_64bits_update(&hash_, data, size);
    write_all(fd_, data, size);
    stored_ += size;
  }

  int fd_;
  XXH3_state_t hash_;
  ZSTD_CCtx* cctx_ = nullptr;
  std::vector<uint8_t> out_;
  uint64_t stored_ = 0;
};

class SubBlob final : public EngineBlob {
 public:
  SubBlob(std::shared_ptr<const EngineBlob> owner, const uint8_t* data, uint64_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}
  const uint8_t* data() const override { return data_; }
  uint64_t size() const override { return size_; }

 private:
  std::shared_ptr<const EngineBlob> owner_;
  const uint8_t* data_;
  uint64_t size_;
};

// The recorded engine size is only a claim (a forged frame can declare 2^60 bytes in a few bytes), so
// the output buffer grows geometrically with the bytes zstd actually produces, up to that size + 1 (the
// extra byte detects a frame that decompresses to more than recorded).
std::shared_ptr<const EngineBlob> decompress_payload(const uint8_t* payload, uint64_t payload_size,
                                                     uint64_t engine_size) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) throw std::bad_alloc();
  const uint64_t limit = engine_size + 1;
  uint64_t capacity = std::min<uint64_t>(limit, std::max<uint64_t>(payload_size * 8, 1 << 20));
  auto bytes = std::make_unique_for_overwrite<uint8_t[]>(capacity);
  ZSTD_inBuffer in{payload, payload_size, 0};
  ZSTD_outBuffer out{bytes.get(), capacity, 0};
  for (;;) {
    const size_t ret = ZSTD_decompressStream(dctx.get(), &out, &in);
    if (ZSTD_isError(ret)) corrupt(std::string("cannot decompress payload: ") + ZSTD_getErrorName(ret));
    if (out.pos > engine_size) corrupt("compressed payload decompresses to more than the recorded size");
    if (ret == 0) break;  // frame complete
    if (out.pos == out.size) {
      capacity = std::min<uint64_t>(limit, capacity * 2);
      auto grown = std::make_unique_for_overwrite<uint8_t[]>(capacity);
      std::memcpy(grown.get(), bytes.get(), out.pos);
      bytes = std::move(grown);
      out.dst = bytes.get();
      out.size = capacity;
    } else if (in.pos == in.size) {
      corrupt("compressed payload is truncated");
    }
  }
  if (in.pos != in.size) corrupt("compressed payload has trailing bytes");
  if (out.pos != engine_size) corrupt("decompressed payload has the wrong size");
  return std::make_shared<BufferBlob>(std::move(bytes), engine_size);
}

using nlohmann::json;

json string_map(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

}  // namespace

std::string serialize_metadata(const EntryMetadata& m) {
  json j;
  j["key_parts"] = string_map(m.key_parts);
  j["input_names"] = m.input_names;
  j["output_names"] = m.output_names;
  j["weight_slots"] = m.weight_slots;
  j["weight_fingerprint"] = m.weight_fingerprint ? json(m.weight_fingerprint->hex()) : json(nullptr);
  j["refit_mode"] = m.refit_mode;
  j["tool_versions"] = string_map(m.tool_versions);
  j["extra"] = string_map(m.extra);
  j["created_unix"] = m.created_unix;
  if (!m.signature.empty()) j["signature"] = m.signature;  // absent when unsigned (signing.hpp)
  // Replace invalid UTF-8 rather than throwing: metadata strings come from users and models.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

EntryMetadata parse_metadata(std::string_view text) {
  try {
    json j = json::parse(text);
    EntryMetadata m;
    m.key_parts = j.at("key_parts").get<std::map<std::string, std::string>>();
    m.input_names = j.at("input_names").get<std::vector<std::string>>();
    m.output_names = j.at("output_names").get<std::vector<std::string>>();
    m.weight_slots = j.at("weight_slots").get<std::vector<std::string>>();
    const json& fp = j.at("weight_fingerprint");
    if (!fp.is_null()) m.weight_fingerprint = Digest::from_hex(fp.get<std::string>());
    m.refit_mode = j.at("refit_mode").get<std::string>();
    m.tool_versions = j.at("tool_versions").get<std::map<std::string, std::string>>();
    m.extra = j.at("extra").get<std::map<std::string, std::string>>();
    // get<int64_t>() on a float like 1e300 would be an out-of-range conversion (UB): integers only.
    if (!j.at("created_unix").is_number_integer()) corrupt("metadata created_unix is not an integer");
    m.created_unix = j.at("created_unix").get<int64_t>();
    if (j.contains("signature")) m.signature = j.at("signature").get<std::string>();
    return m;
  } catch (const json::exception& e) {
    corrupt(std::string("metadata is not valid: ") + e.what());
  } catch (const Error& e) {
    corrupt(std::string("metadata is not valid: ") + e.what());
  }
}

EntryHeader parse_header(const uint8_t* data, uint64_t size) {
  if (size < kEntryHeaderSize)
    corrupt("truncated: " + std::to_string(size) + " bytes, smaller than the header");
  if (std::memcmp(data, kEntryMagic.data(), kEntryMagic.size()) != 0)
    corrupt("bad magic (not an entry file)");
  EntryHeader h;
  h.version = get_le<uint32_t>(data + 8);
  if (h.version != kEntryFormatVersion) {
    corrupt("format version " + std::to_string(h.version) + ", this build reads version " +
            std::to_string(kEntryFormatVersion));
  }
  h.flags = get_le<uint32_t>(data + 12);
  std::memcpy(h.key.bytes.data(), data + 16, h.key.bytes.size());
  h.created_unix = get_le<int64_t>(data + 48);
  h.metadata_size = get_le<uint64_t>(data + 56);
  h.payload_size = get_le<uint64_t>(data + 64);
  h.engine_size = get_le<uint64_t>(data + 72);
  h.payload_checksum = get_le<uint64_t>(data + 80);
  h.header_checksum = get_le<uint64_t>(data + 88);
  return h;
}

uint64_t write_entry(int fd, const Key& key, const EngineSource& engine, EntryMetadata metadata,
                     const WriteOptions& options) {
  EngineChunkReader reader(engine, kIoChunk);
  const uint64_t engine_size = reader.size();
  if (metadata.created_unix == 0) metadata.created_unix = static_cast<int64_t>(std::time(nullptr));
  const std::string meta = serialize_metadata(metadata);

  EntryHeader h;
  h.flags = options.compress ? kFlagZstd : 0;
  h.key = key;
  h.created_unix = metadata.created_unix;
  h.metadata_size = meta.size();
  h.engine_size = engine_size;

  uint8_t header[kEntryHeaderSize] = {};
  write_all(fd, header, sizeof(header));  // placeholder, rewritten once sizes and checksums are known
  write_all(fd, meta.data(), meta.size());

  PayloadWriter payload(fd, options, engine_size);
  reader.for_each_chunk([&](std::string_view bytes) {
    payload.add(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  });
  payload.finish();
  h.payload_size = payload.stored_size();
  h.payload_checksum = payload.checksum();

  encode_header(h, header);
  h.header_checksum = header_checksum(header, reinterpret_cast<const uint8_t*>(meta.data()), meta.size());
  put_le(header + kHeaderChecksumOffset, h.header_checksum);
  if (::pwrite(fd, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header))) {
    io_error("cannot write cache entry header", errno);
  }
  return kEntryHeaderSize + meta.size() + h.payload_size;
}

DecodedEntry decode_entry(const uint8_t* data, uint64_t size, const Key& expected_key) {
  DecodedEntry d;
  d.header = parse_header(data, size);
  const EntryHeader& h = d.header;
  const uint64_t body = size - kEntryHeaderSize;
  if (h.metadata_size > body) corrupt("truncated or bad header: metadata size exceeds the file");
  if (h.header_checksum != header_checksum(data, data + kEntryHeaderSize, h.metadata_size)) {
    corrupt("header/metadata checksum mismatch");
  }
  if (h.payload_size != body - h.metadata_size) {
    corrupt("file is " + std::to_string(size) + " bytes, header says " +
            std::to_string(kEntryHeaderSize + h.metadata_size + h.payload_size) + " (truncated or padded)");
  }
  if (h.key != expected_key) corrupt("entry belongs to key " + h.key.hex() + " (misplaced file)");
  if ((h.flags & ~kFlagZstd) != 0) corrupt("unknown flags " + std::to_string(h.flags));
  if (!(h.flags & kFlagZstd) && h.payload_size != h.engine_size)
    corrupt("payload size differs from engine size");
  d.payload = data + kEntryHeaderSize + h.metadata_size;
  if (XXH3_64bits(d.payload, h.payload_size) != h.payload_checksum) corrupt("payload checksum mismatch");
  d.metadata = parse_metadata(
      std::string_view(reinterpret_cast<const char*>(data + kEntryHeaderSize), h.metadata_size));
  return d;
}

std::shared_ptr<const EngineBlob> engine_blob(const DecodedEntry& entry,
                                              std::shared_ptr<const EngineBlob> mapping) {
  const EntryHeader& h = entry.header;
  if (!(h.flags & kFlagZstd))
    return std::make_shared<SubBlob>(std::move(mapping), entry.payload, h.engine_size);
  unsigned long long frame_size = ZSTD_getFrameContentSize(entry.payload, h.payload_size);
  if (frame_size != h.engine_size) corrupt("compressed payload does not declare the recorded engine size");
  return decompress_payload(entry.payload, h.payload_size, h.engine_size);
}

}  // namespace graphcache::store
