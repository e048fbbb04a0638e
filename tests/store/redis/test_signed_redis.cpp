// Signed entries in the Redis tier against a real redis-server: a signed put is served to a reader that
// trusts its signer; unsigned, otherwise-signed and tampered (metadata rewritten by a keyless client)
// entries are misses counted as `untrusted` in the server's shared stats.
#include <gtest/gtest.h>

#include <filesystem>

#include "graphcache/redis_store.hpp"
#include "graphcache/signing.hpp"
#include "redis_server.hpp"
#include "test_util.hpp"

namespace graphcache {
namespace {

using testing::RedisServer;
using testing::test_bytes;
using testing::test_key;

class SignedRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("graphcache-signed-redis-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    generate_key_pair(dir / "ci.pem", dir / "ci.pub.pem");
    generate_key_pair(dir / "other.pem", dir / "other.pub.pem");
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::unique_ptr<RedisStore> store(const TrustConfig& trust) {
    auto s = std::make_unique<RedisStore>(server.config(),
                                          [this](const std::string& w) { warnings.push_back(w); });
    s->set_trust(make_entry_trust(trust));
    return s;
  }
  std::string path(const char* name) const { return (dir / name).string(); }

  RedisServer server;
  std::filesystem::path dir;
  std::vector<std::string> warnings;
};

TEST_F(SignedRedisTest, TrustedServedOthersRefused) {
  const std::vector<uint8_t> engine = test_bytes(1, 3 << 20);
  auto ci = store({path("ci.pem"), {}, false});
  ci->put(test_key(1), EngineSource::from_memory(engine.data(), engine.size()), {});
  RedisStore attacker(server.config());
  attacker.put(test_key(2), EngineSource::from_memory(engine.data(), engine.size()), {});

  auto fleet = store({"", {path("ci.pub.pem")}, true});
  std::optional<Entry> hit = fleet->get(test_key(1));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(0, std::memcmp(hit->engine->data(), engine.data(), engine.size()));
  EXPECT_FALSE(fleet->get(test_key(2)).has_value());

  // The keyless client rewrites the signed entry's metadata, keeping its signature.
  EntryMetadata forged = attacker.get(test_key(1))->metadata;
  forged.refit_mode = "refittable";
  attacker.put(test_key(1), EngineSource::from_memory(engine.data(), engine.size()), forged);
  EXPECT_FALSE(fleet->get(test_key(1)).has_value());

  auto other = store({"", {path("other.pub.pem")}, true});
  ci->put(test_key(3), EngineSource::from_memory(engine.data(), engine.size()), {});
  EXPECT_FALSE(other->get(test_key(3)).has_value());
  EXPECT_TRUE(fleet->get(test_key(3)).has_value());

  EXPECT_EQ(fleet->stats().untrusted, 3u);
  EXPECT_FALSE(warnings.empty());
}

}  // namespace
}  // namespace graphcache
