// LayeredStore = LocalStore (real directory) over RedisStore (real redis-server): write-back of remote
// hits, puts to both tiers, read-only remotes, and a Redis that dies, stalls and comes back mid-run.
#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "graphcache/error.hpp"
#include "graphcache/layered_store.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/redis_store.hpp"
#include "redis_server.hpp"
#include "test_util.hpp"

namespace graphcache {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using testing::test_bytes;
using testing::test_key;

class LayeredStoreTest : public ::testing::Test {
 protected:
  std::shared_ptr<LayeredStore> make(LayeredStoreOptions options = {},
                                     std::chrono::milliseconds io_timeout = 2000ms,
                                     uint64_t chunk_bytes = 1 << 20) {
    StoreConfig local_config;
    local_config.cache_dir = dir / "cache";
    local_config.max_size = 0;
    local_config.max_entries = 0;
    local_config.fsync = false;
    local = std::make_shared<LocalStore>(local_config, sink());
    RedisConfig redis_config = server.config();
    redis_config.io_timeout = io_timeout;
    redis_config.chunk_bytes = chunk_bytes;
    remote = std::make_shared<RedisStore>(redis_config, sink());
    return std::make_shared<LayeredStore>(local, remote, options, sink());
  }
  WarningSink sink() {
    return [this](const std::string& w) {
      std::lock_guard lock(mutex);
      warnings.push_back(w);
    };
  }
  size_t warning_count() {
    std::lock_guard lock(mutex);
    return warnings.size();
  }
  static void put_bytes(Store& store, const Key& key, const std::vector<uint8_t>& bytes) {
    store.put(key, EngineSource::from_memory(bytes.data(), bytes.size()), testing::test_metadata("layered"));
  }
  static bool holds(Store& store, const Key& key, const std::vector<uint8_t>& bytes) {
    std::optional<Entry> entry = store.get(key);
    return entry && entry->engine->size() == bytes.size() &&
           std::memcmp(entry->engine->data(), bytes.data(), bytes.size()) == 0;
  }

  RedisServer server;
  testing::TempDir dir;
  std::shared_ptr<LocalStore> local;
  std::shared_ptr<RedisStore> remote;
  std::mutex mutex;
  std::vector<std::string> warnings;
};

TEST_F(LayeredStoreTest, PutsGoToBothTiersAndRemoteHitsAreWrittenBack) {
  auto store = make();
  const std::vector<uint8_t> a = test_bytes(1, 3 << 20);
  put_bytes(*store, test_key(1), a);
  EXPECT_TRUE(holds(*local, test_key(1), a));
  EXPECT_TRUE(holds(*remote, test_key(1), a));

  // Another machine's engine: only in Redis. The first get fetches it and fills the local tier.
  const std::vector<uint8_t> b = test_bytes(2, 5000);
  put_bytes(*remote, test_key(2), b);
  EXPECT_FALSE(local->get(test_key(2)));
  EXPECT_TRUE(holds(*store, test_key(2), b));
  EXPECT_TRUE(holds(*local, test_key(2), b));
  EXPECT_EQ(store->get(test_key(2))->metadata.extra.at("tag"), "layered");
  EXPECT_TRUE(warnings.empty());

  const auto tiers = store->tier_stats();
  ASSERT_EQ(tiers.size(), 2u);
  EXPECT_GE(tiers.at("local").hits, 1u);
  EXPECT_EQ(tiers.at("redis").puts, 2u);
  EXPECT_GE(tiers.at("redis").hits, 2u);
  EXPECT_EQ(store->list().size(), 2u);

  EXPECT_TRUE(store->remove(test_key(2)));
  EXPECT_FALSE(store->get(test_key(2)));
}

TEST_F(LayeredStoreTest, ReadOnlyRemoteIsReadButNeverWritten) {
  LayeredStoreOptions options;
  options.remote_read_only = true;
  auto store = make(options);
  const std::vector<uint8_t> bytes = test_bytes(3, 1000);
  put_bytes(*store, test_key(3), bytes);
  EXPECT_TRUE(holds(*local, test_key(3), bytes));
  EXPECT_FALSE(remote->get(test_key(3)));
  put_bytes(*remote, test_key(4), bytes);
  EXPECT_TRUE(holds(*store, test_key(4), bytes));
  EXPECT_TRUE(store->remove(test_key(4)));
  EXPECT_TRUE(remote->get(test_key(4))) << "a read-only remote keeps its entries";
}

TEST_F(LayeredStoreTest, RedisKilledMidRunFallsBackToLocalThenRecovers) {
  LayeredStoreOptions options;
  options.retry_after = 500ms;
  auto store = make(options);
  const std::vector<uint8_t> before = test_bytes(5, 2 << 20), during = test_bytes(6, 2 << 20);
  put_bytes(*store, test_key(5), before);

  server.kill();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(holds(*store, test_key(5), before));  // local hit: Redis not even asked
  EXPECT_FALSE(store->get(test_key(7)));            // local miss, remote down: a miss, no exception
  put_bytes(*store, test_key(6), during);           // local put succeeds, remote skipped
  EXPECT_FALSE(store->get(test_key(8)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_TRUE(store->remote_backing_off());
  EXPECT_TRUE(holds(*local, test_key(6), during)) << "nothing is lost locally";
  ASSERT_EQ(warning_count(), 1u) << "one warning per outage";
  EXPECT_NE(warnings[0].find("using the local store only"), std::string::npos) << warnings[0];
  EXPECT_GE(store->tier_stats().at("redis").errors, 1u);

  server.start();  // same port, empty (no persistence)
  std::this_thread::sleep_for(600ms);
  const std::vector<uint8_t> after = test_bytes(9, 1 << 20);
  put_bytes(*store, test_key(9), after);
  EXPECT_TRUE(holds(*remote, test_key(9), after)) << "the remote is used again after the back-off";
  ASSERT_EQ(warning_count(), 2u);
  EXPECT_NE(warnings[1].find("reachable again"), std::string::npos) << warnings[1];
}

TEST_F(LayeredStoreTest, RedisKilledDuringALargePutKeepsTheLocalCopy) {
  auto store = make({}, 2000ms, 4 << 20);
  const std::vector<uint8_t> big = test_bytes(10, 512 << 20);
  auto put = std::async(std::launch::async, [&] { put_bytes(*store, test_key(10), big); });
  // Wait until the remote put is under way (chunks arriving), then kill the server.
  ASSERT_TRUE([&] {
    for (int i = 0; i < 1000; ++i) {
      if (!server.keys("test:c:*").empty()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }());
  server.kill();
  EXPECT_NO_THROW(put.get());
  EXPECT_TRUE(holds(*local, test_key(10), big));
  EXPECT_EQ(warning_count(), 1u);
}

TEST_F(LayeredStoreTest, StalledRedisCostsOneTimeoutThenIsSkipped) {
  LayeredStoreOptions options;
  options.retry_after = 10s;
  auto store = make(options, 300ms);
  const std::vector<uint8_t> bytes = test_bytes(11, 1000);
  put_bytes(*store, test_key(11), bytes);
  server.pause();
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(store->get(test_key(12)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms) << "bounded by the I/O timeout";
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(store->get(test_key(13)));
  put_bytes(*store, test_key(14), bytes);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms) << "backing off: no more timeouts";
  EXPECT_TRUE(holds(*store, test_key(11), bytes));
  server.resume();
  EXPECT_EQ(warning_count(), 1u);
}

}  // namespace
}  // namespace graphcache
