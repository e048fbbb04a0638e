// RedisStore: chunked engine entries in Redis. See include/graphcache/redis_store.hpp for the layout.
#include "graphcache/redis_store.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>

#include "engine_chunk_reader.hpp"
#include "entry_format.hpp"
#include "explain_index.hpp"
#include "graphcache/error.hpp"
#include "graphcache/signing.hpp"
#include "redis_connection.hpp"
#include "redis_manifest.hpp"

namespace graphcache {
namespace {

using store::BufferBlob;
using store::EngineChunkReader;

using redis::Args;
using redis::Clock;
using redis::Connection;
using redis::Manifest;
using redis::Reply;
using redis::ReplyLimits;

// Bounds on what a reply may legitimately hold (a hostile or broken server gets its connection dropped).
constexpr ReplyLimits kManifestLimits{16ull << 20, 0};  // 1M chunk checksums + metadata fit easily
constexpr ReplyLimits kScanLimits{8ull << 20, 65536};   // a page of COUNT 1000 is far below this
constexpr ReplyLimits kStatsLimits{1ull << 20, 4096};
// SCAN must return cursor 0 eventually; one that does not is given up after this many pages (10M keys).
constexpr int kMaxScanPages = 10000;
// Chunks written before their manifest expire after this unless the manifest's transaction PERSISTs
// them, so a put killed midway leaves nothing behind forever even when no TTL is configured.
constexpr std::string_view kPendingChunkMs = "86400000";  // one day: longer than any put takes

// A SCAN reply is [cursor, [name, ...]]; anything else is a protocol error, not something to index.
struct ScanPage {
  std::string cursor;
  std::vector<std::string> names;
};

ScanPage parse_scan_page(const redisReply& reply) {
  const auto bad = [] { return Error(ErrorKind::kIo, "redis: malformed SCAN reply"); };
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2) throw bad();
  const redisReply& cursor = *reply.element[0];
  const redisReply& names = *reply.element[1];
  if (cursor.type != REDIS_REPLY_STRING || names.type != REDIS_REPLY_ARRAY) throw bad();
  ScanPage page{std::string(cursor.str, cursor.len), {}};
  for (size_t i = 0; i < names.elements; ++i) {
    if (names.element[i]->type != REDIS_REPLY_STRING) throw bad();
    page.names.emplace_back(names.element[i]->str, names.element[i]->len);
  }
  return page;
}

// Deletes a key only while it still holds the value we judged corrupt, so a reader never deletes an
// entry that a concurrent put has just replaced.
constexpr std::string_view kDeleteIfEqualScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

std::string hex_u64(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[static_cast<size_t>(i)] = kDigits[value & 15];
  return out;
}

// SCAN MATCH treats * ? [ ] \ specially; a prefix containing them must match literally.
std::string glob_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

int64_t now_unix() {
  return static_cast<int64_t>(std::time(nullptr));
}

}  // namespace

class RedisStore::Impl {
 public:
  Impl(const RedisConfig& config, WarningSink warn) : config_(config), warn_(std::move(warn)) {}

  // Runs `op` on a live connection under the store's lock. A transport failure drops the connection
  // (the next operation reconnects), is counted, and propagates as Error(kIo); so does running out of
  // memory (the reply was left half read). Every operation gets a deadline of `budget` to start with.
  template <typename Op>
  auto with_connection(Clock::duration budget, Op&& op) {
    std::lock_guard lock(mutex_);
    try {
      if (!connection_ || connection_->broken()) {
        connection_.reset();
        connection_ = std::make_unique<Connection>(config_);
      }
      connection_->set_deadline(Clock::now() + budget);
      return op(*connection_);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kIo) {
        ++local_errors_;
        if (connection_ && connection_->broken()) connection_.reset();
      }
      throw;
    } catch (const std::bad_alloc&) {
      ++local_errors_;
      connection_.reset();
      throw Error(ErrorKind::kIo, "redis: out of memory while reading a reply; connection dropped");
    }
  }

  std::string manifest_key(const Key& key) const { return config_.key_prefix + "m:" + key.hex(); }
  std::string chunk_key(const std::string& hex, uint64_t generation, size_t index) const {
    return config_.key_prefix + "c:" + hex + ":" + hex_u64(generation) + ":" + std::to_string(index);
  }
  std::string stats_key() const { return config_.key_prefix + "stats"; }
  std::string ttl_ms() const { return std::to_string(config_.ttl.count() * 1000); }

  void warn(const std::string& message) const {
    if (warn_) warn_("graphcache: redis: " + message);
  }

  // Queues HINCRBY for each counter and reads the replies (one round trip for all of them).
  void count(Connection& c, std::initializer_list<std::pair<const char*, uint64_t>> counters) {
    const std::string key = stats_key();
    size_t queued = 0;
    std::vector<std::string> values;
    values.reserve(counters.size());
    for (const auto& [field, amount] : counters) {
      if (amount == 0) continue;
      values.push_back(std::to_string(amount));
      c.append({"HINCRBY", key, field, values.back()});
      ++queued;
    }
    for (size_t i = 0; i < queued; ++i) c.read_reply();
  }

  std::vector<std::string> chunk_keys(const Manifest& manifest) const {
    std::vector<std::string> keys;
    const std::string hex = manifest.key.hex();
    for (size_t i = 0; i < manifest.chunk_checksums.size(); ++i)
      keys.push_back(chunk_key(hex, manifest.generation, i));
    return keys;
  }

  void delete_keys(Connection& c, const std::vector<std::string>& keys) {
    constexpr size_t kBatch = 512;
    for (size_t start = 0; start < keys.size(); start += kBatch) {
      Args args{"UNLINK"};
      for (size_t i = start; i < std::min(keys.size(), start + kBatch); ++i) args.push_back(keys[i]);
      c.command(args);
    }
  }

  static void check_scan_pages(int pages) {
    if (pages > kMaxScanPages) {
      throw Error(ErrorKind::kIo,
                  "redis: SCAN did not finish after " + std::to_string(kMaxScanPages) + " pages; giving up");
    }
  }

  // Chunks whose manifest is unreadable: find them by pattern (rare path; SCAN never blocks the server).
  void delete_chunks_by_scan(Connection& c, const std::string& hex, std::optional<uint64_t> keep_generation) {
    const std::string pattern = glob_escape(config_.key_prefix) + "c:" + hex + ":*";
    const std::string keep = keep_generation ? chunk_key(hex, *keep_generation, 0) : std::string();
    const std::string keep_stem = keep.substr(0, keep.rfind(':') + 1);
    std::vector<std::string> doomed;
    std::string cursor = "0";
    int pages = 0;
    do {
      check_scan_pages(++pages);
      ScanPage page =
          parse_scan_page(*c.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, kScanLimits));
      cursor = std::move(page.cursor);
      for (std::string& name : page.names) {
        if (keep_stem.empty() || !name.starts_with(keep_stem)) doomed.push_back(std::move(name));
      }
    } while (cursor != "0");
    delete_keys(c, doomed);
  }

  // A manifest or chunk failed its check: warn, count, and remove the entry unless it changed meanwhile.
  void drop_corrupt(Connection& c, const Key& key, const std::string& manifest_bytes,
                    const std::optional<Manifest>& manifest, const std::string& why) {
    warn("corrupt entry " + key.hex() + " (" + why + "); treated as a miss and removed");
    const std::string mkey = manifest_key(key);
    const Reply removed = c.command({"EVAL", kDeleteIfEqualScript, "1", mkey, manifest_bytes});
    if (redis::as_integer(*removed) == 1) {
      if (manifest) {
        delete_keys(c, chunk_keys(*manifest));
      } else {
        delete_chunks_by_scan(c, key.hex(), std::nullopt);
      }
    }
    count(c, {{"corrupt", 1}, {"misses", 1}});
  }

  enum class ChunkResult { kOk, kMissing, kCorrupt };

  // Fetches every chunk straight into `out`, several requests in flight so the server sends the next
  // chunk while we receive this one; each chunk is hashed piece by piece as it arrives. On the first bad
  // chunk the reply already in flight is still read, so the connection stays in sync.
  ChunkResult fetch_chunks(Connection& c, const Manifest& manifest, uint8_t* out, std::string& why) {
    const std::vector<std::string> keys = chunk_keys(manifest);
    // Redis copies each reply into the client's output buffer, so bound the bytes in flight, not the count.
    constexpr uint64_t kInFlightBytes = 128ull << 20;
    const size_t in_flight =
        static_cast<size_t>(std::max<uint64_t>(2, kInFlightBytes / manifest.chunk_bytes));
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hasher(XXH3_createState(), XXH3_freeState);
    size_t sent = 0;
    ChunkResult result = ChunkResult::kOk;
    // After a bad chunk no more GETs are sent; only the one already in flight is drained.
    for (size_t i = 0; i < keys.size() && (result == ChunkResult::kOk || i < sent); ++i) {
      while (result == ChunkResult::kOk && sent < keys.size() && sent < i + in_flight)
        c.append({"GET", keys[sent++]});
      const uint64_t expected = manifest.chunk_size(i);
      // Replies drained after a failure land in their own (discarded) slot too: no separate buffer.
      uint8_t* destination = out + i * manifest.chunk_bytes;
      XXH3_64bits_reset(hasher.get());
      uint64_t actual = 0;
      const auto status = c.read_bulk_into(
          destination, expected, [&](const uint8_t* p, size_t n) { XXH3_64bits_update(hasher.get(), p, n); },
          &actual);
      if (result != ChunkResult::kOk) continue;  // draining
      const std::string which = "chunk " + std::to_string(i);
      switch (status) {
        case Connection::BulkStatus::kNil:
          result = ChunkResult::kMissing;
          why = which + " is missing";
          break;
        case Connection::BulkStatus::kNotString:
          result = ChunkResult::kCorrupt;
          why = which + " is not a string";
          break;
        case Connection::BulkStatus::kWrongSize:
          result = ChunkResult::kCorrupt;
          why = which + " has " + std::to_string(actual) + " bytes, expected " + std::to_string(expected);
          break;
        case Connection::BulkStatus::kOk:
          if (XXH3_64bits_digest(hasher.get()) != manifest.chunk_checksums[i]) {
            result = ChunkResult::kCorrupt;
            why = which + " checksum mismatch";
          }
          break;
      }
    }
    return result;
  }

  // Keeps recently used entries alive when a TTL is configured (an LRU-ish policy for shared caches).
  void refresh_ttl(Connection& c, const std::string& mkey, const Manifest& manifest) {
    if (config_.ttl.count() <= 0) return;
    const std::string ttl = ttl_ms();
    std::vector<std::string> keys = chunk_keys(manifest);
    keys.push_back(mkey);
    for (const std::string& k : keys) c.append({"PEXPIRE", k, ttl});
    for (size_t i = 0; i < keys.size(); ++i) c.read_reply();
  }

  std::optional<Entry> get(Connection& c, const Key& key) {
    const std::string mkey = manifest_key(key);
    // A put may replace the entry (and delete the old chunks) while we read: retry with the new manifest.
    for (int attempt = 0; attempt < 3; ++attempt) {
      Reply reply = c.command({"GET", mkey}, kManifestLimits);
      if (redis::is_nil(*reply)) {
        count(c, {{"misses", 1}});
        return std::nullopt;
      }
      const std::string manifest_bytes(redis::as_bytes(*reply));
      reply.reset();
      std::optional<Manifest> manifest;
      try {
        manifest = redis::decode_manifest(manifest_bytes, key);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kCorrupt) throw;
        drop_corrupt(c, key, manifest_bytes, std::nullopt, e.what());
        return std::nullopt;
      }
      // Sizes are checked before anything is allocated; the buffer then only reserves address space.
      if (manifest->engine_size > config_.max_engine_bytes) {
        warn("entry " + key.hex() + " claims " + std::to_string(manifest->engine_size) + " bytes, over the " +
             std::to_string(config_.max_engine_bytes) + "-byte limit; treated as a miss");
        count(c, {{"misses", 1}});
        return std::nullopt;
      }
      std::shared_ptr<store::ReservedBlob> blob;
      try {
        blob = std::make_shared<store::ReservedBlob>(manifest->engine_size, /*populate=*/false);
      } catch (const std::bad_alloc&) {
        warn("cannot reserve " + std::to_string(manifest->engine_size) + " bytes for entry " + key.hex() +
             "; treated as a miss");
        count(c, {{"misses", 1}});
        return std::nullopt;
      }
      // The whole get may take what its bytes take at the minimum rate, plus a few round trips.
      c.set_deadline(Clock::now() + c.allowance(manifest->engine_size) + 2 * config_.io_timeout);
      std::string why;
      const ChunkResult result = fetch_chunks(c, *manifest, blob->mutable_data(), why);
      if (result == ChunkResult::kMissing) {
        Reply again = c.command({"GET", mkey}, kManifestLimits);
        if (!redis::is_nil(*again) && redis::as_bytes(*again) != manifest_bytes) continue;  // replaced
      }
      if (result != ChunkResult::kOk) {
        drop_corrupt(c, key, manifest_bytes, manifest, why);
        return std::nullopt;
      }
      Entry entry{std::move(manifest->metadata), std::move(blob)};
      if (std::string refused; trust_ && !trust_->admits(key, entry, refused)) {
        warn("entry " + key.hex() + " refused: " + refused + "; treated as a miss");
        count(c, {{"untrusted", 1}, {"misses", 1}});
        return std::nullopt;
      }
      refresh_ttl(c, mkey, *manifest);
      count(c, {{"hits", 1}, {"bytes_read", manifest->engine_size}});
      return entry;
    }
    warn("entry " + key.hex() + " kept changing while being read; treated as a miss");
    count(c, {{"misses", 1}});
    return std::nullopt;
  }

  void put(Connection& c, const Key& key, const EngineSource& engine, const EntryMetadata& metadata) {
    EngineChunkReader reader(engine, config_.chunk_bytes);
    c.set_deadline(Clock::now() + c.allowance(reader.size()) + 3 * config_.io_timeout);
    Manifest manifest;
    manifest.key = key;
    manifest.metadata = metadata;
    if (trust_) trust_->sign(key, engine, manifest.metadata);
    manifest.created_unix = manifest.metadata.created_unix != 0 ? manifest.metadata.created_unix : now_unix();
    manifest.metadata.created_unix = manifest.created_unix;
    manifest.engine_size = reader.size();
    manifest.chunk_bytes = config_.chunk_bytes;
    manifest.generation = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
    const uint32_t chunk_count = Manifest::chunk_count_for(manifest.engine_size, manifest.chunk_bytes);

    const std::string hex = key.hex();
    const bool expire = config_.ttl.count() > 0;
    const std::string ttl = ttl_ms();
    std::vector<std::string> written;
    try {
      for (uint32_t i = 0; i < chunk_count; ++i) {
        const uint64_t size = manifest.chunk_size(i);
        const std::string_view bytes = reader.chunk(i * manifest.chunk_bytes, size);
        manifest.chunk_checksums.push_back(redis::chunk_checksum(bytes.data(), bytes.size()));
        written.push_back(chunk_key(hex, manifest.generation, i));
        c.send_with_payload({"SET", written.back()}, bytes,
                            Args{"PX", expire ? std::string_view(ttl) : kPendingChunkMs});
        if (const Reply reply = c.read_reply(); reply->type == REDIS_REPLY_ERROR) {
          throw Error(ErrorKind::kIo, "redis: SET of chunk " + std::to_string(i) +
                                          " failed: " + std::string(reply->str, reply->len));
        }
      }
      reader.check_unchanged();  // a file still being written is not stored, as in the local tier
      // The manifest goes last: until it is set, readers see the old entry or none, never a partial one.
      const std::string encoded = redis::encode_manifest(manifest);
      const std::string mkey = manifest_key(key);
      Args set_manifest{"SET", mkey, encoded, "GET"};
      if (expire) set_manifest.insert(set_manifest.end(), {"PX", ttl});
      Reply previous;
      if (expire) {
        previous = c.command(set_manifest, kManifestLimits);
      } else {
        // Without a TTL the chunks lose their pending expiry in the same transaction that publishes the
        // manifest: a put killed before it leaves chunks that expire, one after it a complete entry.
        c.append({"MULTI"});
        for (const std::string& chunk : written) c.append({"PERSIST", chunk});
        c.append(set_manifest);
        c.append({"EXEC"});
        for (size_t i = 0; i < written.size() + 2; ++i) {
          if (const Reply queued = c.read_reply(); queued->type == REDIS_REPLY_ERROR)
            throw Error(ErrorKind::kIo,
                        "redis: publishing the manifest failed: " + std::string(queued->str, queued->len));
        }
        const ReplyLimits exec_limits{kManifestLimits.max_bytes, static_cast<int>(written.size()) + 1};
        Reply results = c.read_reply(exec_limits);
        if (results->type != REDIS_REPLY_ARRAY || results->elements != written.size() + 1)
          throw Error(ErrorKind::kIo, "redis: malformed EXEC reply while publishing the manifest");
        previous.reset(results->element[written.size()]);
        results->element[written.size()] = nullptr;  // now owned by `previous`
        if (previous->type == REDIS_REPLY_ERROR)
          throw Error(ErrorKind::kIo,
                      "redis: SET of the manifest failed: " + std::string(previous->str, previous->len));
      }
      written.clear();
      if (!redis::is_nil(*previous)) {
        try {
          const Manifest old = redis::decode_manifest(redis::as_bytes(*previous), key);
          if (old.generation != manifest.generation) delete_keys(c, chunk_keys(old));
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::kCorrupt) throw;
          delete_chunks_by_scan(c, hex, manifest.generation);
        }
      }
      count(c, {{"puts", 1}, {"bytes_written", manifest.engine_size}});
    } catch (...) {
      if (!written.empty() && !c.broken()) {
        try {
          delete_keys(c, written);
        } catch (const Error&) {
          // Best effort; the chunks have no manifest, so no reader can see them (and a TTL expires them).
        }
      }
      throw;
    }
  }

  bool remove(Connection& c, const Key& key) {
    const std::string mkey = manifest_key(key);
    Reply reply = c.command({"GET", mkey}, kManifestLimits);
    if (redis::is_nil(*reply)) return false;
    const std::string manifest_bytes(redis::as_bytes(*reply));
    const Reply removed = c.command({"EVAL", kDeleteIfEqualScript, "1", mkey, manifest_bytes});
    if (redis::as_integer(*removed) != 1) return true;  // replaced meanwhile: the newer entry stays
    try {
      delete_keys(c, chunk_keys(redis::decode_manifest(manifest_bytes, key)));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kCorrupt) throw;
      delete_chunks_by_scan(c, key.hex(), std::nullopt);
    }
    return true;
  }

  std::vector<EntryInfo> list(Connection& c) {
    const std::string manifest_prefix = config_.key_prefix + "m:";
    const std::string pattern = glob_escape(manifest_prefix) + "*";
    std::vector<EntryInfo> entries;
    const int64_t now = now_unix();
    std::string cursor = "0";
    int pages = 0;
    do {
      check_scan_pages(++pages);
      ScanPage page =
          parse_scan_page(*c.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, kScanLimits));
      cursor = std::move(page.cursor);
      std::vector<Key> keys;
      std::vector<std::string> names;
      for (const std::string& name : page.names) {
        if (!name.starts_with(manifest_prefix)) continue;  // a server that ignores MATCH
        const std::string_view hex = std::string_view(name).substr(manifest_prefix.size());
        if (!Digest::is_valid_hex(hex)) continue;  // not ours
        keys.push_back(Digest::from_hex(hex));
        names.emplace_back(name);
      }
      for (const std::string& name : names) {
        c.append({"GET", name});
        c.append({"OBJECT", "IDLETIME", name});
      }
      for (size_t i = 0; i < names.size(); ++i) {
        Reply manifest_reply = c.read_reply(kManifestLimits);
        Reply idle = c.read_reply();
        if (manifest_reply->type != REDIS_REPLY_STRING) continue;  // removed since the SCAN
        try {
          const Manifest manifest = redis::decode_manifest(redis::as_bytes(*manifest_reply), keys[i]);
          EntryInfo info;
          info.key = keys[i];
          info.engine_bytes = manifest.engine_size;
          info.stored_bytes = manifest.engine_size + manifest_reply->len;
          info.created_unix = manifest.created_unix;
          info.last_used_unix =
              idle->type == REDIS_REPLY_INTEGER ? now - idle->integer : manifest.created_unix;
          entries.push_back(info);
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::kCorrupt) throw;  // corrupt ones are dropped by the next get
        }
      }
    } while (cursor != "0");
    return entries;
  }

  StoreStats stats(Connection& c) {
    StoreStats stats;
    Reply all = c.command({"HGETALL", stats_key()}, kStatsLimits);
    if (all->type != REDIS_REPLY_ARRAY) throw Error(ErrorKind::kIo, "redis: malformed HGETALL reply");
    for (size_t i = 0; i + 1 < all->elements; i += 2) {
      const std::string_view field = redis::as_bytes(*all->element[i]);
      const uint64_t value =
          std::strtoull(std::string(redis::as_bytes(*all->element[i + 1])).c_str(), nullptr, 10);
      if (field == "hits") stats.hits = value;
      if (field == "misses") stats.misses = value;
      if (field == "puts") stats.puts = value;
      if (field == "corrupt") stats.corrupt = value;
      if (field == "bytes_read") stats.bytes_read = value;
      if (field == "bytes_written") stats.bytes_written = value;
      if (field == "evictions") stats.evictions = value;
      if (field == "untrusted") stats.untrusted = value;
    }
    for (const EntryInfo& info : list(c)) {
      ++stats.entries;
      stats.stored_bytes += info.stored_bytes;
    }
    stats.errors = local_errors_;
    return stats;
  }

  uint64_t local_errors() {
    std::lock_guard lock(mutex_);
    return local_errors_;
  }

 private:
  RedisConfig config_;
  WarningSink warn_;
  std::mutex mutex_;
  std::unique_ptr<Connection> connection_;
  uint64_t local_errors_ = 0;  // failures to reach the server cannot be counted in it

 public:
  std::shared_ptr<const EntryTrust> trust_;  // set once, before the store is used (set_trust)
};

RedisStore::RedisStore(RedisConfig config, WarningSink warn)
    : config_(std::move(config)), impl_(std::make_unique<Impl>(config_, std::move(warn))) {
  if (config_.chunk_bytes == 0) throw Error(ErrorKind::kInvalidArgument, "redis chunk size must be > 0");
}

RedisStore::~RedisStore() = default;

// Each operation starts with a few replies' worth of time; get extends it once it knows the engine size,
// put is given what its engine takes at the minimum rate, list and stats what a big SCAN takes.
std::optional<Entry> RedisStore::get(const Key& key) {
  return impl_->with_connection(3 * config_.io_timeout, [&](Connection& c) -> std::optional<Entry> {
    try {
      return impl_->get(c, key);
    } catch (const std::bad_alloc&) {
      // The reply was left half read: drop the connection (the next operation reconnects); a miss.
      c.mark_broken();
      impl_->warn("out of memory while reading entry " + key.hex() + "; treated as a miss");
      return std::nullopt;
    }
  });
}

void RedisStore::put(const Key& key, const EngineSource& engine, const EntryMetadata& metadata) {
  impl_->with_connection(3 * config_.io_timeout, [&](Connection& c) {
    impl_->put(c, key, engine, metadata);
    store::redis_index_note_put(c, config_.key_prefix, key, metadata);  // explain index
  });
}

bool RedisStore::remove(const Key& key) {
  return impl_->with_connection(60 * config_.io_timeout, [&](Connection& c) {
    store::redis_index_note_remove(c, config_.key_prefix, key);
    return impl_->remove(c, key);
  });
}

std::vector<EntryInfo> RedisStore::list() {
  return impl_->with_connection(60 * config_.io_timeout, [&](Connection& c) { return impl_->list(c); });
}

StoreStats RedisStore::stats() {
  return impl_->with_connection(60 * config_.io_timeout, [&](Connection& c) { return impl_->stats(c); });
}

void RedisStore::set_trust(std::shared_ptr<const EntryTrust> trust) {
  impl_->trust_ = std::move(trust);
}

void RedisStore::ping() {
  impl_->with_connection(config_.io_timeout, [](Connection& c) { c.command({"PING"}); });
}

}  // namespace graphcache
