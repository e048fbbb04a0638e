// open_store(config): the one factory of tiers (local; local layered over the remote the URL's scheme
// names) and make_single_flight(store, config).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "graphcache/error.hpp"
#include "graphcache/open_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::ScratchDir;

StoreConfig config_in(const ScratchDir& dir) {
  StoreConfig c;
  c.cache_dir = dir / "cache";
  return c;
}

TEST(OpenStore, WithoutRemoteTheTiersAreTheLocalStore) {
  ScratchDir dir;
  const OpenedStore opened = open_store(config_in(dir));
  ASSERT_TRUE(opened.local);
  EXPECT_FALSE(opened.remote);
  EXPECT_EQ(opened.tiers.get(), opened.local.get());
}

TEST(OpenStore, RedisSchemeLayersTheRedisTierBehindTheLocalOne) {
  ScratchDir dir;
  StoreConfig c = config_in(dir);
  c.remote = "redis://127.0.0.1:1/0?prefix=t:";
  c.remote_read_only = true;
  const OpenedStore opened = open_store(c);  // not connected yet: an unreachable server is no error here
  ASSERT_TRUE(opened.remote);
  EXPECT_EQ(opened.remote->name(), "redis");
  EXPECT_EQ(opened.tiers->name(), "layered");
  EXPECT_TRUE(opened.remote_read_only);
  EXPECT_EQ(remote_schemes(), std::vector<std::string>{"redis"});
}

TEST(OpenStore, UnknownSchemeIsAClearErrorThatHidesThePassword) {
  ScratchDir dir;
  StoreConfig c = config_in(dir);
  for (const char* url : {"http://:topsecret@host/0", "topsecret@host:6379"}) {
    c.remote = url;
    try {
      open_store(c);
      ADD_FAILURE() << url << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("invalid remote URL"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("redis://"), std::string::npos) << "names the known schemes";
      EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
    }
  }
}

TEST(OpenStore, EventLogOfTheConfigRecordsEveryLookupAndPut) {
  ScratchDir dir;
  StoreConfig c = config_in(dir);
  c.event_log = dir / "events.jsonl";
  const OpenedStore opened = open_store(c);
  ASSERT_TRUE(opened.events);
  const Key stored = Digest::from_hex(std::string(64, 'b')), absent = Digest::from_hex(std::string(64, 'c'));
  const std::string engine = "engine bytes";
  opened.tiers->put(stored, EngineSource::from_memory(engine.data(), engine.size()), EntryMetadata{});
  EXPECT_TRUE(opened.tiers->get(stored));
  EXPECT_FALSE(opened.tiers->get(absent));
  std::ifstream log(c.event_log);
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(log, line);) events.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["event"], "put");
  EXPECT_EQ(events[1]["event"], "hit");
  EXPECT_EQ(events[1]["key"], stored.hex());
  EXPECT_EQ(events[2]["event"], "miss");
  EXPECT_EQ(events[2]["key"], absent.hex());

  c.event_log.clear();
  EXPECT_FALSE(open_store(c).events) << "no event log unless configured";
}

TEST(OpenStore, SingleFlightOfALocalConfigUsesFileLocks) {
  ScratchDir dir;
  const StoreConfig c = config_in(dir);
  const OpenedStore opened = open_store(c);
  auto flight = make_single_flight(*opened.tiers, c);
  const Key key = Digest::from_hex(std::string(64, 'a'));
  auto lock = flight->acquire(key, std::chrono::milliseconds(0));
  ASSERT_TRUE(lock);
  EXPECT_TRUE(std::filesystem::exists(dir / ("cache/locks/" + key.hex() + ".lock")));
  EXPECT_FALSE(flight->acquire(key, std::chrono::milliseconds(0))) << "one holder per key";
}

}  // namespace
}  // namespace graphcache
