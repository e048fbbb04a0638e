// RedisStore against a real redis-server: round trips (0 B, 1 KiB, >= 1 GiB chunked), corruption of
// chunks and manifests behind the store's back, overwrite, TTL, list/remove/stats, unreachable servers.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "graphcache/error.hpp"
#include "graphcache/redis_store.hpp"
#include "redis_server.hpp"
#include "test_util.hpp"

namespace graphcache {
namespace {

using testing::RedisServer;
using testing::test_bytes;
using testing::test_key;
using testing::test_metadata;

class RedisStoreTest : public ::testing::Test {
 protected:
  RedisStore make_store(uint64_t chunk_bytes = 64ull << 20,
                        std::chrono::seconds ttl = std::chrono::seconds(0)) {
    RedisConfig config = server.config();
    config.chunk_bytes = chunk_bytes;
    config.ttl = ttl;
    return RedisStore(config, [this](const std::string& w) { warnings.push_back(w); });
  }
  void TearDown() override {
    for (const std::string& w : warnings) std::printf("warning: %s\n", w.c_str());
  }
  std::vector<std::string> chunk_keys(const Key& key) { return server.keys("test:c:" + key.hex() + ":*"); }

  RedisServer server;
  std::vector<std::string> warnings;
};

void expect_round_trip(RedisStore& store, const Key& key, const std::vector<uint8_t>& engine) {
  const EntryMetadata metadata = test_metadata("rt");
  store.put(key, EngineSource::from_memory(engine.data(), engine.size()), metadata);
  std::optional<Entry> entry = store.get(key);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->metadata, metadata);
  ASSERT_EQ(entry->engine->size(), engine.size());
  if (!engine.empty()) {
    EXPECT_EQ(0, std::memcmp(entry->engine->data(), engine.data(), engine.size()));
  }
}

TEST_F(RedisStoreTest, RoundTripEmptyEngine) {
  RedisStore store = make_store();
  expect_round_trip(store, test_key(1), {});
  EXPECT_TRUE(chunk_keys(test_key(1)).empty());
}

TEST_F(RedisStoreTest, RoundTripOneKiB) {
  RedisStore store = make_store();
  expect_round_trip(store, test_key(2), test_bytes(2, 1024));
  EXPECT_EQ(chunk_keys(test_key(2)).size(), 1u);
}

TEST_F(RedisStoreTest, RoundTripMultiChunkWithPartialLastChunk) {
  RedisStore store = make_store(1 << 20);
  expect_round_trip(store, test_key(3), test_bytes(3, (5 << 20) + 123));
  EXPECT_EQ(chunk_keys(test_key(3)).size(), 6u);
}

// >= 1 GiB in 64 MiB chunks: each value stays far below proto-max-bulk-len (512 MiB).
TEST_F(RedisStoreTest, RoundTripOverOneGiB) {
  RedisStore store = make_store(64ull << 20);
  const Key key = test_key(4);
  const std::vector<uint8_t> engine = test_bytes(4, (1ull << 30) + 4097);
  const auto start = std::chrono::steady_clock::now();
  expect_round_trip(store, key, engine);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(chunk_keys(key).size(), 17u);
  RecordProperty("put_get_seconds", std::to_string(seconds));
  EXPECT_TRUE(store.remove(key));
  EXPECT_TRUE(chunk_keys(key).empty());
}

TEST_F(RedisStoreTest, PutStreamsFromFile) {
  testing::TempDir dir;
  const std::vector<uint8_t> engine = test_bytes(5, (3 << 20) + 7);
  std::ofstream(dir / "engine.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(engine.data()), static_cast<std::streamsize>(engine.size()));
  RedisStore store = make_store(1 << 20);
  store.put(test_key(5), EngineSource::from_file(dir / "engine.bin"), test_metadata("file"));
  std::optional<Entry> entry = store.get(test_key(5));
  ASSERT_TRUE(entry);
  ASSERT_EQ(entry->engine->size(), engine.size());
  EXPECT_EQ(0, std::memcmp(entry->engine->data(), engine.data(), engine.size()));
  EXPECT_THROW(store.put(test_key(6), EngineSource::from_file(dir / "missing.bin"), {}), Error);
  // A FIFO at the path (no writer will open it) is refused at once, and nothing is stored.
  ASSERT_EQ(::mkfifo((dir / "engine.fifo").c_str(), 0600), 0);
  try {
    store.put(test_key(6), EngineSource::from_file(dir / "engine.fifo"), {});
    ADD_FAILURE() << "a FIFO was stored";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(chunk_keys(test_key(6)).empty());
  EXPECT_FALSE(store.get(test_key(6)).has_value());
}

TEST_F(RedisStoreTest, MissOnAbsentKey) {
  RedisStore store = make_store();
  EXPECT_FALSE(store.get(test_key(7)).has_value());
  EXPECT_EQ(store.stats().misses, 1u);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(RedisStoreTest, CorruptChunkViaSetrangeIsAMissAndRemoved) {
  RedisStore store = make_store(1 << 20);
  const Key key = test_key(8);
  const std::vector<uint8_t> engine = test_bytes(8, 3 << 20);
  store.put(key, EngineSource::from_memory(engine.data(), engine.size()), test_metadata("c"));
  std::vector<std::string> chunks = chunk_keys(key);
  ASSERT_EQ(chunks.size(), 3u);
  std::sort(chunks.begin(), chunks.end());  // ...:0 ...:1 ...:2
  server.command("SETRANGE %s 4242 %b", chunks[1].c_str(), "XYZ", size_t{3});

  EXPECT_FALSE(store.get(key).has_value());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("checksum mismatch"), std::string::npos) << warnings[0];
  EXPECT_EQ(store.stats().corrupt, 1u);
  EXPECT_TRUE(server.keys("test:m:*").empty()) << "corrupt manifest must be removed";
  EXPECT_TRUE(chunk_keys(key).empty()) << "chunks of a corrupt entry must be removed";
  EXPECT_FALSE(store.get(key).has_value());  // a plain miss now, no second warning
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(RedisStoreTest, TruncatedAndMissingChunksAreMisses) {
  RedisStore store = make_store(1 << 20);
  const std::vector<uint8_t> engine = test_bytes(9, 2 << 20);
  store.put(test_key(9), EngineSource::from_memory(engine.data(), engine.size()), {});
  store.put(test_key(10), EngineSource::from_memory(engine.data(), engine.size()), {});
  const std::string truncated = chunk_keys(test_key(9)).front();
  server.command("SET %s %b", truncated.c_str(), "short", size_t{5});
  server.command("DEL %s", chunk_keys(test_key(10)).front().c_str());

  EXPECT_FALSE(store.get(test_key(9)).has_value());
  EXPECT_FALSE(store.get(test_key(10)).has_value());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("bytes, expected"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("missing"), std::string::npos) << warnings[1];
  EXPECT_EQ(store.stats().corrupt, 2u);
  EXPECT_TRUE(server.keys("test:*:" + test_key(9).hex() + "*").empty());
}

TEST_F(RedisStoreTest, GarbageOrMisplacedManifestIsAMissAndRemoved) {
  RedisStore store = make_store(1 << 20);
  const std::vector<uint8_t> engine = test_bytes(11, 1500000);
  store.put(test_key(11), EngineSource::from_memory(engine.data(), engine.size()), {});
  // A manifest copied under another key must not serve key 12's lookups.
  {
    testing::RawReply manifest = server.command("GET test:m:%s", test_key(11).hex().c_str());
    server.command("SET test:m:%s %b", test_key(12).hex().c_str(), manifest->str, manifest->len);
  }
  server.command("SETRANGE test:m:%s 20 %b", test_key(11).hex().c_str(), "\xff", size_t{1});
  EXPECT_FALSE(store.get(test_key(11)).has_value());
  EXPECT_FALSE(store.get(test_key(12)).has_value());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("checksum"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("wrong key"), std::string::npos) << warnings[1];
  EXPECT_TRUE(server.keys("test:m:*").empty());
  EXPECT_TRUE(chunk_keys(test_key(11)).empty()) << "found by SCAN although the manifest was unreadable";
}

TEST_F(RedisStoreTest, OverwriteReplacesChunksAndDeletesOldOnes) {
  RedisStore store = make_store(1 << 20);
  const Key key = test_key(13);
  const std::vector<uint8_t> first = test_bytes(13, 3 << 20), second = test_bytes(14, (1 << 20) + 5);
  store.put(key, EngineSource::from_memory(first.data(), first.size()), test_metadata("one"));
  store.put(key, EngineSource::from_memory(second.data(), second.size()), test_metadata("two"));
  EXPECT_EQ(chunk_keys(key).size(), 2u);
  std::optional<Entry> entry = store.get(key);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->metadata.extra.at("tag"), "two");
  ASSERT_EQ(entry->engine->size(), second.size());
  EXPECT_EQ(0, std::memcmp(entry->engine->data(), second.data(), second.size()));
}

TEST_F(RedisStoreTest, TtlAppliesToEveryKeyAndHitsRefreshIt) {
  RedisStore store = make_store(1 << 20, std::chrono::seconds(100));
  const Key key = test_key(15);
  const std::vector<uint8_t> engine = test_bytes(15, 2 << 20);
  store.put(key, EngineSource::from_memory(engine.data(), engine.size()), {});
  std::vector<std::string> keys = chunk_keys(key);
  keys.push_back("test:m:" + key.hex());
  for (const std::string& k : keys) {
    server.command("PEXPIRE %s 5000", k.c_str());  // pretend time passed
  }
  ASSERT_TRUE(store.get(key));
  for (const std::string& k : keys) {
    const long long ttl = server.command("PTTL %s", k.c_str())->integer;
    EXPECT_GT(ttl, 90000) << k;
    EXPECT_LE(ttl, 100000) << k;
  }
}

TEST_F(RedisStoreTest, WithoutTtlCompletedPutsKeepNoExpiry) {
  RedisStore store = make_store(1 << 20);
  const Key key = test_key(16);
  const std::vector<uint8_t> engine = test_bytes(16, (3 << 20) + 5);
  store.put(key, EngineSource::from_memory(engine.data(), engine.size()), {});
  std::vector<std::string> keys = chunk_keys(key);
  ASSERT_EQ(keys.size(), 4u);
  keys.push_back("test:m:" + key.hex());
  for (const std::string& k : keys) EXPECT_EQ(server.command("PTTL %s", k.c_str())->integer, -1) << k;
  ASSERT_TRUE(store.get(key));
}

// A put cut off before its manifest (the server stops answering mid-put) leaves chunks that expire.
TEST_F(RedisStoreTest, ChunksOfAnInterruptedPutExpire) {
  RedisConfig config = server.config();
  config.chunk_bytes = 1 << 20;
  config.io_timeout = std::chrono::milliseconds(300);
  RedisStore store(config);
  const Key key = test_key(17);
  const std::vector<uint8_t> engine = test_bytes(17, 256 << 20);
  std::thread pauser([&] {
    while (chunk_keys(key).size() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.pause();
  });
  EXPECT_THROW(store.put(key, EngineSource::from_memory(engine.data(), engine.size()), {}), Error);
  pauser.join();
  server.resume();
  const std::vector<std::string> left = chunk_keys(key);
  ASSERT_GE(left.size(), 3u);
  EXPECT_TRUE(server.keys("test:m:*").empty());
  for (const std::string& k : left) {
    const long long ttl = server.command("PTTL %s", k.c_str())->integer;
    EXPECT_GT(ttl, 0) << k << " would stay forever";
    EXPECT_LE(ttl, 86400000) << k;
  }
}

TEST_F(RedisStoreTest, ListRemoveAndSharedStats) {
  RedisStore store = make_store(1 << 20);
  RedisStore other_client = make_store(1 << 20);
  const std::vector<uint8_t> engine = test_bytes(16, 1000);
  store.put(test_key(16), EngineSource::from_memory(engine.data(), engine.size()), {});
  store.put(test_key(17), EngineSource::from_memory(engine.data(), 10), {});
  ASSERT_TRUE(other_client.get(test_key(16)));
  EXPECT_FALSE(other_client.get(test_key(18)));

  std::vector<EntryInfo> entries = store.list();
  ASSERT_EQ(entries.size(), 2u);
  std::sort(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.engine_bytes > b.engine_bytes; });
  EXPECT_EQ(entries[0].key, test_key(16));
  EXPECT_EQ(entries[0].engine_bytes, 1000u);
  EXPECT_GT(entries[0].stored_bytes, 1000u);

  const StoreStats stats = store.stats();  // counters live in the server: both clients' activity
  EXPECT_EQ(stats.puts, 2u);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.bytes_read, 1000u);
  EXPECT_EQ(stats.bytes_written, 1010u);
  EXPECT_EQ(stats.entries, 2u);

  EXPECT_TRUE(store.remove(test_key(16)));
  EXPECT_FALSE(store.remove(test_key(16)));
  EXPECT_FALSE(store.get(test_key(16)));
  EXPECT_EQ(store.list().size(), 1u);
}

TEST_F(RedisStoreTest, PrefixesAreIsolated) {
  RedisConfig config = server.config("team-a:");
  RedisStore a(config);
  config.key_prefix = "team-b:";
  RedisStore b(config);
  const std::vector<uint8_t> engine = test_bytes(19, 100);
  a.put(test_key(19), EngineSource::from_memory(engine.data(), engine.size()), {});
  EXPECT_TRUE(a.get(test_key(19)));
  EXPECT_FALSE(b.get(test_key(19)));
  EXPECT_EQ(b.list().size(), 0u);
}

TEST_F(RedisStoreTest, PasswordAndDatabaseFromUrl) {
  server.command("CONFIG SET requirepass s3cret");
  RedisConfig config = RedisConfig::from_url(server.url() + "/3?prefix=test:");
  EXPECT_THROW(RedisStore(config).ping(), Error);  // NOAUTH
  config =
      RedisConfig::from_url("redis://:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/3?prefix=test:");
  RedisStore store(config);
  const std::vector<uint8_t> engine = test_bytes(20, 64);
  store.put(test_key(20), EngineSource::from_memory(engine.data(), engine.size()), {});
  EXPECT_TRUE(store.get(test_key(20)));
  // The entry is in database 3, not 0.
  std::unique_ptr<redisContext, void (*)(redisContext*)> c(redisConnect("127.0.0.1", server.port()),
                                                           redisFree);
  testing::RawReply(static_cast<redisReply*>(redisCommand(c.get(), "AUTH s3cret")));
  testing::RawReply in_db0(static_cast<redisReply*>(redisCommand(c.get(), "DBSIZE")));
  EXPECT_EQ(in_db0->integer, 0);
  testing::RawReply(static_cast<redisReply*>(redisCommand(c.get(), "SELECT 3")));
  testing::RawReply in_db3(static_cast<redisReply*>(redisCommand(c.get(), "DBSIZE")));
  EXPECT_GE(in_db3->integer, 2);  // manifest, chunk (+ stats)
}

TEST_F(RedisStoreTest, UnreachableServerThrowsIoQuickly) {
  RedisStore store = make_store();
  server.kill();
  const auto start = std::chrono::steady_clock::now();
  try {
    store.get(test_key(21));
    FAIL() << "get on a dead server must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
  }
  const std::vector<uint8_t> engine = test_bytes(21, 10);
  EXPECT_THROW(store.put(test_key(21), EngineSource::from_memory(engine.data(), engine.size()), {}), Error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  server.start();  // same port: the store reconnects by itself
  EXPECT_FALSE(store.get(test_key(21)));
  store.put(test_key(21), EngineSource::from_memory(engine.data(), engine.size()), {});
  EXPECT_TRUE(store.get(test_key(21)));
}

TEST_F(RedisStoreTest, StalledServerTimesOut) {
  RedisConfig config = server.config();
  config.io_timeout = std::chrono::milliseconds(300);
  RedisStore store(config);
  store.ping();
  server.pause();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(store.get(test_key(22)), Error);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  server.resume();
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  EXPECT_FALSE(store.get(test_key(22)));  // reconnected after the broken connection was dropped
}

}  // namespace
}  // namespace graphcache
