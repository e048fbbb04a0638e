#include "explain_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/atomic_file.hpp"
#include "common/unique_fd.hpp"
#include "entry_format.hpp"
#include "graphcache/error.hpp"
#include "local_layout.hpp"
#include "redis_connection.hpp"
#include "redis_manifest.hpp"

namespace graphcache::store {
namespace {

constexpr size_t kRecordFixed = 32 + 32 + kMinHashSize * 4;
constexpr size_t kFrameHeader = 4 + 8 + 1;  // length, XXH3-64 of type + payload, type
constexpr char kPut = 'P', kRemove = 'R';
constexpr uint64_t kMaxMetadataBytes = 64ull << 20;
constexpr redis::ReplyLimits kIndexLimits{256ull << 20, 1 << 21};  // 1M records of <= 256 B each + factors

std::optional<std::array<uint32_t, kMinHashSize>> parse_minhash(const std::string& hex) {
  if (hex.size() != kMinHashSize * 8) return std::nullopt;
  std::array<uint32_t, kMinHashSize> out{};
  for (size_t i = 0; i < kMinHashSize; ++i) {
    uint32_t v = 0;
    for (size_t k = 0; k < 8; ++k) {
      const char ch = hex[i * 8 + k];
      uint32_t d;
      if (ch >= '0' && ch <= '9')
        d = static_cast<uint32_t>(ch - '0');
      else if (ch >= 'a' && ch <= 'f')
        d = static_cast<uint32_t>(ch - 'a' + 10);
      else
        return std::nullopt;
      v = (v << 4) | d;
    }
    out[i] = v;
  }
  return out;
}

std::string frame(char type, std::string_view payload) {
  std::string out(kFrameHeader, '\0');
  const uint32_t length = static_cast<uint32_t>(payload.size());
  std::memcpy(out.data(), &length, 4);
  out[12] = type;
  out.append(payload);
  const uint64_t sum = XXH3_64bits(out.data() + 12, 1 + payload.size());
  std::memcpy(out.data() + 4, &sum, 8);
  return out;
}

// `create`: false for tombstones (a cache without an index has nothing to remove from it).
void append_frame(const std::string& cache_dir, const std::string& bytes, bool create = true) {
  const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0);
  UniqueFd fd(::open(local_index_path(cache_dir).c_str(), flags, 0644));
  if (fd.get() < 0) return;
  [[maybe_unused]] ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());  // one write: no interleaving
}

bool read_file(const std::string& path, std::string& out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return false;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return true;
}

// Parses the log into live records; false when any frame is damaged (then the caller rebuilds).
bool parse_log(std::string_view log, std::vector<IndexRecord>& live, size_t& frames) {
  std::unordered_map<Key, size_t> position;
  std::vector<std::optional<IndexRecord>> records;
  size_t at = 0;
  frames = 0;
  while (at < log.size()) {
    if (log.size() - at < kFrameHeader) return false;
    uint32_t length;
    uint64_t sum;
    std::memcpy(&length, log.data() + at, 4);
    std::memcpy(&sum, log.data() + at + 4, 8);
    if (length > kMaxRecordBytes || log.size() - at - kFrameHeader < length) return false;
    if (XXH3_64bits(log.data() + at + 12, 1 + length) != sum) return false;
    const char type = log[at + 12];
    const std::string_view payload = log.substr(at + kFrameHeader, length);
    at += kFrameHeader + length;
    ++frames;
    if (type == kPut) {
      auto record = decode_index_record(payload);
      if (!record) return false;
      const Key key = record->key;
      if (auto it = position.find(key); it != position.end()) records[it->second].reset();
      position[key] = records.size();
      records.push_back(std::move(record));
    } else if (type == kRemove && payload.size() == 32) {
      Key key;
      std::memcpy(key.bytes.data(), payload.data(), 32);
      if (auto it = position.find(key); it != position.end()) {
        records[it->second].reset();
        position.erase(it);
      }
    } else {
      return false;
    }
  }
  live.clear();
  for (auto& r : records)
    if (r) live.push_back(std::move(*r));
  return true;
}

// Writes `records` as a fresh log (temp file + rename, so readers see the old or the new file).
void rewrite(const std::string& cache_dir, const std::vector<IndexRecord>& records) {
  std::string bytes;
  for (const auto& r : records) bytes += frame(kPut, encode_index_record(r));
  const std::string path = local_index_path(cache_dir);
  try {
    AtomicFile file(path, path + "." + temp_file_name());  // removes the temp file on any error
    write_all(file.fd(), bytes.data(), bytes.size(), "the explain index");
    file.commit(/*durable=*/false);  // a hint, rebuilt when lost: no fsync
  } catch (const Error&) {           // a hint: never fails the caller
  }
}

std::optional<IndexRecord> record_from_payload(const Key& key, std::string_view payload) {
  auto record = decode_index_record(payload);
  if (!record || record->key != key) return std::nullopt;
  return record;
}

}  // namespace

std::optional<IndexRecord> index_record_from(const Key& key, const EntryMetadata& metadata) {
  const auto factors = metadata.extra.find(std::string(kFactorsField));
  const auto minhash = metadata.extra.find(std::string(kMinHashField));
  if (factors == metadata.extra.end() || minhash == metadata.extra.end()) return std::nullopt;
  IndexRecord r;
  r.key = key;
  const auto sig = parse_minhash(minhash->second);
  if (!sig) return std::nullopt;
  r.minhash = *sig;
  try {
    const auto j = nlohmann::json::parse(factors->second);
    if (Digest::from_hex(j.at("key").get<std::string>()) != key) return std::nullopt;  // not this entry's
    r.structure = Digest::from_hex(j.at("structure").get<std::string>());
  } catch (const std::exception&) {
    return std::nullopt;
  }
  r.factors = factors->second;
  if (kRecordFixed + r.factors.size() > kMaxRecordBytes) return std::nullopt;
  return r;
}

std::string encode_index_record(const IndexRecord& r) {
  std::string out;
  out.reserve(kRecordFixed + r.factors.size());
  out.append(reinterpret_cast<const char*>(r.key.bytes.data()), 32);
  out.append(reinterpret_cast<const char*>(r.structure.bytes.data()), 32);
  out.append(reinterpret_cast<const char*>(r.minhash.data()), kMinHashSize * 4);
  out.append(r.factors);
  return out;
}

std::optional<IndexRecord> decode_index_record(std::string_view bytes) {
  if (bytes.size() < kRecordFixed || bytes.size() > kMaxRecordBytes) return std::nullopt;
  IndexRecord r;
  std::memcpy(r.key.bytes.data(), bytes.data(), 32);
  std::memcpy(r.structure.bytes.data(), bytes.data() + 32, 32);
  std::memcpy(r.minhash.data(), bytes.data() + 64, kMinHashSize * 4);
  r.factors.assign(bytes.substr(kRecordFixed));
  return r;
}

std::string local_index_path(const std::string& cache_dir) {
  return cache_dir + "/explain.index";
}

void local_index_note_put(const std::string& cache_dir, const Key& key,
                          const EntryMetadata& metadata) noexcept {
  try {
    if (auto record = index_record_from(key, metadata))
      append_frame(cache_dir, frame(kPut, encode_index_record(*record)));
  } catch (...) {  // a hint only: never fail the put
  }
}

void local_index_note_remove(const std::string& cache_dir, const Key& key) noexcept {
  try {
    append_frame(cache_dir,
                 frame(kRemove, std::string_view(reinterpret_cast<const char*>(key.bytes.data()), 32)),
                 /*create=*/false);
  } catch (...) {
  }
}

void local_index_note_clear(const std::string& cache_dir) noexcept {
  ::unlink(local_index_path(cache_dir).c_str());
}

std::vector<IndexRecord> local_index_load(const std::string& cache_dir) {
  std::string log;
  std::vector<IndexRecord> live;
  size_t frames = 0;
  if (read_file(local_index_path(cache_dir), log) && parse_log(log, live, frames)) {
    if (frames > 2 * live.size() + 64) rewrite(cache_dir, live);  // mostly dead records: compact
    return live;
  }
  // Missing or damaged: rebuild from what the entries themselves record.
  live.clear();
  for (const ScannedFile& f : scan_store(cache_dir).entries) {
    if (auto m = local_entry_metadata(cache_dir, f.key))
      if (auto r = index_record_from(f.key, *m)) live.push_back(std::move(*r));
  }
  rewrite(cache_dir, live);
  return live;
}

std::optional<EntryMetadata> local_entry_metadata(const std::string& cache_dir, const Key& key) {
  // Reading a hint is not a use: O_NOATIME keeps the entry's LRU time (atime), where the owner may set it.
  const std::string path = entry_file(cache_dir, key);
  constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
  UniqueFd fd(::open(path.c_str(), kFlags | O_NOATIME));
  if (fd.get() < 0 && errno == EPERM) fd = UniqueFd(::open(path.c_str(), kFlags));
  if (fd.get() < 0) return std::nullopt;
  uint8_t header[kEntryHeaderSize];
  if (::pread(fd.get(), header, sizeof header, 0) != static_cast<ssize_t>(sizeof header)) return std::nullopt;
  try {
    const EntryHeader h = parse_header(header, sizeof header);
    if (h.key != key || h.metadata_size > kMaxMetadataBytes) return std::nullopt;
    std::string meta(h.metadata_size, '\0');
    if (::pread(fd.get(), meta.data(), meta.size(), kEntryHeaderSize) != static_cast<ssize_t>(meta.size()))
      return std::nullopt;
    // The header checksum of entry_format.hpp: XXH3-64 of bytes [0, 88) followed by the metadata.
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    XXH3_64bits_update(&state, header, 88);
    XXH3_64bits_update(&state, meta.data(), meta.size());
    if (XXH3_64bits_digest(&state) != h.header_checksum) return std::nullopt;
    return parse_metadata(meta);
  } catch (const Error&) {
    return std::nullopt;
  }
}

void redis_index_note_put(redis::Connection& c, const std::string& prefix, const Key& key,
                          const EntryMetadata& metadata) noexcept {
  try {
    if (auto record = index_record_from(key, metadata)) {
      const std::string field(reinterpret_cast<const char*>(key.bytes.data()), 32);
      c.command({"HSET", prefix + "x:index", field, encode_index_record(*record)});
    }
  } catch (...) {  // the entry is stored; a missing index record only weakens explanations
  }
}

void redis_index_note_remove(redis::Connection& c, const std::string& prefix, const Key& key) noexcept {
  try {
    const std::string field(reinterpret_cast<const char*>(key.bytes.data()), 32);
    c.command({"HDEL", prefix + "x:index", field});
  } catch (...) {
  }
}

std::vector<IndexRecord> redis_index_load(redis::Connection& c, const std::string& prefix) {
  const redis::Reply reply = c.command({"HGETALL", prefix + "x:index"}, kIndexLimits);
  std::vector<IndexRecord> out;
  if (reply->type != REDIS_REPLY_ARRAY) throw Error(ErrorKind::kIo, "redis: HGETALL did not return an array");
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    const redisReply* field = reply->element[i];
    const redisReply* value = reply->element[i + 1];
    if (field->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING || field->len != 32) continue;
    Key key;
    std::memcpy(key.bytes.data(), field->str, 32);
    if (auto r = record_from_payload(key, std::string_view(value->str, value->len)))
      out.push_back(std::move(*r));
  }
  return out;
}

std::optional<EntryMetadata> redis_entry_metadata(redis::Connection& c, const std::string& prefix,
                                                  const Key& key) {
  const redis::Reply reply = c.command({"GET", prefix + "m:" + key.hex()}, {64ull << 20, 0});
  if (redis::is_nil(*reply) || reply->type != REDIS_REPLY_STRING) return std::nullopt;
  try {
    return redis::decode_manifest(redis::as_bytes(*reply), key).metadata;
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace graphcache::store
