// RedisConfig::from_url: every accepted form, and clear errors (never echoing the password) otherwise.
#include <gtest/gtest.h>

#include "graphcache/error.hpp"
#include "graphcache/redis_store.hpp"

namespace graphcache {
namespace {

TEST(RedisConfigTest, HostOnlyUsesDefaults) {
  const RedisConfig c = RedisConfig::from_url("redis://cache.internal");
  EXPECT_EQ(c.host, "cache.internal");
  EXPECT_EQ(c.port, 6379);
  EXPECT_EQ(c.db, 0);
  EXPECT_TRUE(c.password.empty());
  EXPECT_EQ(c.key_prefix, "graphcache:");
  EXPECT_EQ(c.ttl.count(), 0);
}

TEST(RedisConfigTest, PasswordPortAndDatabase) {
  const RedisConfig c = RedisConfig::from_url("redis://:p%40ss@10.0.0.5:7000/2");
  EXPECT_EQ(c.host, "10.0.0.5");
  EXPECT_EQ(c.port, 7000);
  EXPECT_EQ(c.db, 2);
  EXPECT_TRUE(c.username.empty());
  EXPECT_EQ(c.password, "p@ss");
  EXPECT_EQ(c.redacted_url(), "redis://:***@10.0.0.5:7000/2");
}

TEST(RedisConfigTest, AclUserAndIpv6) {
  const RedisConfig c = RedisConfig::from_url("redis://builder:pw@[::1]:6380/0");
  EXPECT_EQ(c.username, "builder");
  EXPECT_EQ(c.password, "pw");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 6380);
  EXPECT_EQ(c.redacted_url(), "redis://builder:***@[::1]:6380/0");
}

TEST(RedisConfigTest, QueryParameters) {
  const RedisConfig c = RedisConfig::from_url(
      "redis://h:1/1?prefix=team%3Aa%3A&ttl=86400&timeout_ms=250&connect_timeout_ms=50&chunk_mib=16");
  EXPECT_EQ(c.key_prefix, "team:a:");
  EXPECT_EQ(c.ttl.count(), 86400);
  EXPECT_EQ(c.io_timeout.count(), 250);
  EXPECT_EQ(c.connect_timeout.count(), 50);
  EXPECT_EQ(c.chunk_bytes, 16ull << 20);
}

void expect_invalid(const std::string& url, const std::string& fragment) {
  try {
    RedisConfig::from_url(url);
    ADD_FAILURE() << url << " was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    const std::string message = e.what();
    EXPECT_NE(message.find(fragment), std::string::npos) << url << " -> " << message;
    EXPECT_EQ(message.find("topsecret"), std::string::npos) << "password leaked: " << message;
  }
}

TEST(RedisConfigTest, RejectsMalformedUrls) {
  expect_invalid("http://host", "redis://");
  expect_invalid("redis://", "host is empty");
  expect_invalid("redis://:topsecret@host:notaport", "port");
  expect_invalid("redis://:topsecret@host:70000", "port");
  expect_invalid("redis://host/x", "database");
  expect_invalid("redis://host?ttl=-1", "ttl");
  expect_invalid("redis://host?chunk_mib=1024", "chunk_mib");
  expect_invalid("redis://host?colour=blue", "unknown query parameter");
  expect_invalid("redis://host?prefix", "no '='");
  expect_invalid("redis://[::1:6379", "unterminated");
  expect_invalid("redis://:top%zzsecret@host", "percent");
}

}  // namespace
}  // namespace graphcache
