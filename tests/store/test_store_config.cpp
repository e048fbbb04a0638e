// Configuration precedence (flags > env > config file > defaults) and size parsing.
#include <gtest/gtest.h>
#include <fstream>

#include "graphcache/error.hpp"
#include "graphcache/store_config.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::ScratchDir;

TEST(StoreConfig, ParsesSizes) {
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("64K"), 64u << 10);
  EXPECT_EQ(parse_size("10m"), 10u << 20);
  EXPECT_EQ(parse_size("1.5G"), 3ull << 29);
  EXPECT_EQ(parse_size("2T"), 2ull << 40);
  EXPECT_EQ(parse_size(" 3 MiB "), 3u << 20);
  EXPECT_EQ(parse_size("7KB"), 7u << 10);
  EXPECT_EQ(parse_size("0"), 0u);
  for (const char* bad : {"", "G", "-1", "1X", "1.2.3M", ".5G", "10 bananas", "99999999999T"}) {
    EXPECT_THROW(parse_size(bad), Error) << bad;
  }
}

TEST(StoreConfig, DefaultsFollowXdg) {
  std::map<std::string, std::string> env{{"HOME", "/home/u"}};
  StoreConfig c = resolve_store_config({}, &env);
  EXPECT_EQ(c.cache_dir, "/home/u/.cache/graphcache");
  EXPECT_EQ(c.max_size, 10ull << 30);
  env["XDG_CACHE_HOME"] = "/xdg/cache";
  EXPECT_EQ(resolve_store_config({}, &env).cache_dir, "/xdg/cache/graphcache");
}

TEST(StoreConfig, FlagsBeatEnvBeatFileBeatDefaults) {
  ScratchDir dir;
  std::ofstream(dir / "graphcache.conf") << "# comment\n"
                                         << "cache_dir = /from/file\n"
                                         << "max_size = 1G   # trailing comment\n"
                                         << "max_entries = 10\n"
                                         << "compress = true\n";
  std::map<std::string, std::string> env{{"HOME", "/home/u"}, {"GRAPHCACHE_CONFIG", dir / "graphcache.conf"}};
  StoreConfig c = resolve_store_config({}, &env);
  EXPECT_EQ(c.cache_dir, "/from/file");
  EXPECT_EQ(c.max_size, 1ull << 30);
  EXPECT_EQ(c.max_entries, 10u);
  EXPECT_TRUE(c.compress);

  env["GRAPHCACHE_DIR"] = "/from/env";
  env["GRAPHCACHE_MAX_SIZE"] = "2G";
  c = resolve_store_config({}, &env);
  EXPECT_EQ(c.cache_dir, "/from/env");
  EXPECT_EQ(c.max_size, 2ull << 30);
  EXPECT_EQ(c.max_entries, 10u) << "unset in env: the file's value stays";

  StoreConfigOverrides flags;
  flags.cache_dir = "/from/flag";
  flags.max_entries = "5";
  c = resolve_store_config(flags, &env);
  EXPECT_EQ(c.cache_dir, "/from/flag");
  EXPECT_EQ(c.max_size, 2ull << 30);
  EXPECT_EQ(c.max_entries, 5u);
}

TEST(StoreConfig, RemoteTierFollowsTheSamePrecedence) {
  ScratchDir dir;
  std::ofstream(dir / "graphcache.conf") << "remote = redis://file:6379/0\nremote_read_only = yes\n";
  std::map<std::string, std::string> env{{"HOME", "/home/u"}, {"GRAPHCACHE_CONFIG", dir / "graphcache.conf"}};
  StoreConfig c = resolve_store_config({}, &env);
  EXPECT_EQ(c.remote, "redis://file:6379/0");
  EXPECT_TRUE(c.remote_read_only);

  env["GRAPHCACHE_REMOTE"] = "redis://env:6379/1";
  env["GRAPHCACHE_REMOTE_READ_ONLY"] = "off";
  c = resolve_store_config({}, &env);
  EXPECT_EQ(c.remote, "redis://env:6379/1");
  EXPECT_FALSE(c.remote_read_only);

  StoreConfigOverrides flags;
  flags.remote = "redis://flag:6379/2";
  flags.remote_read_only = "on";
  c = resolve_store_config(flags, &env);
  EXPECT_EQ(c.remote, "redis://flag:6379/2");
  EXPECT_TRUE(c.remote_read_only);

  std::map<std::string, std::string> bare{{"HOME", "/home/u"}};
  EXPECT_TRUE(resolve_store_config({}, &bare).remote.empty()) << "default: no remote tier";
}

TEST(StoreConfig, EventLogAndTrustFollowTheSamePrecedence) {
  ScratchDir dir;
  std::ofstream(dir / "graphcache.conf") << "event_log = ~/file.jsonl\nrequire_signature = on\n";
  std::map<std::string, std::string> env{{"HOME", "/home/u"}, {"GRAPHCACHE_CONFIG", dir / "graphcache.conf"}};
  StoreConfig c = resolve_store_config({}, &env);
  EXPECT_EQ(c.event_log, "/home/u/file.jsonl") << "a config line, ~ expanded";
  EXPECT_TRUE(c.trust.require_signature);

  env["GRAPHCACHE_EVENT_LOG"] = "/tmp/env.jsonl";
  env["GRAPHCACHE_REQUIRE_SIGNATURE"] = "off";
  c = resolve_store_config({}, &env);
  EXPECT_EQ(c.event_log, "/tmp/env.jsonl");
  EXPECT_FALSE(c.trust.require_signature);

  StoreConfigOverrides flags;
  flags.event_log = "/tmp/flag.jsonl";
  flags.require_signature = "yes";
  c = resolve_store_config(flags, &env);
  EXPECT_EQ(c.event_log, "/tmp/flag.jsonl");
  EXPECT_TRUE(c.trust.require_signature);

  std::map<std::string, std::string> bare{{"HOME", "/home/u"}};
  EXPECT_TRUE(resolve_store_config({}, &bare).event_log.empty()) << "default: no event log";
}

TEST(StoreConfig, ConfigFileInXdgConfigHomeIsRead) {
  ScratchDir dir;
  std::filesystem::create_directories(dir / "graphcache");
  std::ofstream(dir / "graphcache/graphcache.conf") << "max_entries = 77\n";
  std::map<std::string, std::string> env{{"HOME", "/h"}, {"XDG_CONFIG_HOME", dir.path()}};
  EXPECT_EQ(resolve_store_config({}, &env).max_entries, 77u);
}

TEST(StoreConfig, ErrorsNameTheirSource) {
  ScratchDir dir;
  std::ofstream(dir / "bad.conf") << "max_size = 12Q\n";
  std::map<std::string, std::string> env{{"HOME", "/h"}, {"GRAPHCACHE_CONFIG", dir / "bad.conf"}};
  try {
    resolve_store_config({}, &env);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("bad.conf:1"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "bad.conf") << "colour = blue\n";
  EXPECT_THROW(resolve_store_config({}, &env), Error);
  std::map<std::string, std::string> env2{{"HOME", "/h"}, {"GRAPHCACHE_MAX_ENTRIES", "lots"}};
  try {
    resolve_store_config({}, &env2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("GRAPHCACHE_MAX_ENTRIES"), std::string::npos) << e.what();
  }
  StoreConfigOverrides named;
  named.config_file = dir / "missing.conf";
  EXPECT_THROW(resolve_store_config(named, &env2), Error) << "a named config file must exist";
}

}  // namespace
}  // namespace graphcache
