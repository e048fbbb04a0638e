// The real `graphcache` binary with a remote tier: --remote / GRAPHCACHE_REMOTE / --remote-read-only,
// per-tier `stats`, and a remote that is down.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "redis_server.hpp"
#include "test_util.hpp"

#ifndef GRAPHCACHE_CLI
#error "GRAPHCACHE_CLI must name the graphcache executable"
#endif

namespace graphcache {
namespace {

using testing::RedisServer;
using testing::TempDir;

struct CliRun {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

CliRun run(const std::string& environment, const std::string& args) {
  const std::string command = "env " + environment + " " + GRAPHCACHE_CLI + " " + args + " 2>&1";
  CliRun result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

nlohmann::json stats_json(const std::string& environment, const std::string& extra = "") {
  const CliRun r = run(environment, "stats --json " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const size_t start = r.output.find('{');  // warnings on stderr may precede the JSON
  return nlohmann::json::parse(r.output.substr(start == std::string::npos ? 0 : start));
}

class CliRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<uint8_t> bytes = testing::test_bytes(1, (2 << 20) + 11);
    std::ofstream(dir / "engine.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  std::string machine(const std::string& name) {
    return "GRAPHCACHE_DIR=" + (dir / name) + " HOME=" + dir.path();
  }
  std::string remote() { return server.url() + "?prefix=cli:"; }

  RedisServer server;
  TempDir dir;
  const std::string key = std::string(64, 'c');
};

TEST_F(CliRemoteTest, PutOnOneMachineGetOnAnotherThroughRedis) {
  CliRun put = run(machine("a"), "put " + key + " " + (dir / "engine.bin") + " --remote '" + remote() + "'");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  CliRun get =
      run(machine("b") + " 'GRAPHCACHE_REMOTE=" + remote() + "'", "get " + key + " " + (dir / "out.bin"));
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_EQ(testing::read_text(dir / "out.bin"), testing::read_text(dir / "engine.bin"));

  const nlohmann::json stats = stats_json(machine("b"), "--remote '" + remote() + "'");
  EXPECT_EQ(stats["tiers"]["redis"]["hits"], 1);
  EXPECT_EQ(stats["tiers"]["redis"]["puts"], 1);
  EXPECT_EQ(stats["tiers"]["local"]["puts"], 1) << "the remote hit was written back locally";
  CliRun local_only = run(machine("b"), "get " + key + " " + (dir / "out2.bin"));
  EXPECT_EQ(local_only.exit_code, 0) << local_only.output;
  EXPECT_FALSE(stats_json(machine("b")).contains("tiers")) << "no remote: one tier, printed as before";
}

// The remote tier is a setting like any other: a config file line `remote = URL` layers it, the
// environment beats the file and a flag beats both (one StoreConfig, one open_store).
TEST_F(CliRemoteTest, RemoteFromTheConfigFileFollowsThePrecedence) {
  std::ofstream(dir / "graphcache.conf") << "remote = " << remote() << "\nremote_read_only = no\n";
  const std::string with_file = machine("a") + " GRAPHCACHE_CONFIG=" + (dir / "graphcache.conf");
  CliRun put = run(with_file, "put " + key + " " + (dir / "engine.bin"));
  ASSERT_EQ(put.exit_code, 0) << put.output;
  EXPECT_FALSE(server.keys("cli:m:*").empty()) << "the config file's remote was written";
  EXPECT_EQ(stats_json(with_file)["tiers"]["redis"]["puts"], 1);

  // The environment's read-only beats the file's: the next put stays local.
  const std::string other(64, 'f');
  put = run(with_file + " GRAPHCACHE_REMOTE_READ_ONLY=on", "put " + other + " " + (dir / "engine.bin"));
  ASSERT_EQ(put.exit_code, 0) << put.output;
  EXPECT_EQ(
      run(machine("b") + " GRAPHCACHE_CONFIG=" + (dir / "graphcache.conf"), "get " + other + " -").exit_code,
      1)
      << "a read-only remote was not written";
  // A flag beats the file: on a machine whose local tier misses, the unreachable remote named by
  // --remote is the one asked (a warning and a miss), not the file's remote that has the entry.
  const std::string other_machine = machine("b") + " GRAPHCACHE_CONFIG=" + (dir / "graphcache.conf");
  EXPECT_EQ(run(other_machine, "get " + key + " " + (dir / "out.bin")).exit_code, 0) << "the file's remote";
  const CliRun flag = run(machine("c") + " GRAPHCACHE_CONFIG=" + (dir / "graphcache.conf"),
                          "get " + key + " " + (dir / "out2.bin") + " --remote redis://127.0.0.1:1/0");
  EXPECT_EQ(flag.exit_code, 1) << flag.output;
  EXPECT_NE(flag.output.find("using the local store only"), std::string::npos) << flag.output;
}

TEST_F(CliRemoteTest, ReadOnlyRemoteIsNotWritten) {
  CliRun put = run(machine("a") + " GRAPHCACHE_REMOTE_READ_ONLY=1",
                   "put " + key + " " + (dir / "engine.bin") + " --remote '" + remote() + "'");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  put = run(machine("a"), "put " + std::string(64, 'd') + " " + (dir / "engine.bin") +
                              " --remote-read-only --remote '" + remote() + "'");
  ASSERT_EQ(put.exit_code, 0) << put.output;
  EXPECT_TRUE(server.keys("cli:m:*").empty());
  EXPECT_EQ(run(machine("b"), "get " + key + " - --remote '" + remote() + "'").exit_code, 1)
      << "a miss everywhere";
}

TEST_F(CliRemoteTest, RemoteDownFallsBackToLocalWithAWarning) {
  ASSERT_EQ(
      run(machine("a"), "put " + key + " " + (dir / "engine.bin") + " --remote '" + remote() + "'").exit_code,
      0);
  server.kill();
  const CliRun get =
      run(machine("a"), "get " + key + " " + (dir / "out.bin") + " --remote '" + remote() + "'");
  EXPECT_EQ(get.exit_code, 0) << get.output;
  const CliRun put = run(machine("a"), "put " + std::string(64, 'e') + " " + (dir / "engine.bin") +
                                           " --remote '" + remote() + "'");
  EXPECT_EQ(put.exit_code, 0) << put.output;
  EXPECT_NE(put.output.find("using the local store only"), std::string::npos) << put.output;
  const nlohmann::json stats = stats_json(machine("a"), "--remote '" + remote() + "'");
  EXPECT_GE(stats["tiers"]["redis"]["errors"], 1);
  EXPECT_EQ(stats["tiers"]["local"]["entries"], 2);
}

TEST_F(CliRemoteTest, MalformedRemoteUrlIsAClearError) {
  const CliRun r = run(machine("a"), "get " + key + " - --remote 'redis://:topsecret@host:notaport'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("invalid redis URL"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("topsecret"), std::string::npos) << r.output;
}

TEST_F(CliRemoteTest, ExecOnTwoMachinesCompilesOnceThroughTheRedisLock) {
  // Two hosts (own cache directories, one Redis) start the same slow build at once: the Redis lock
  // makes one compile and the other wait and take the engine from the shared tier.
  const std::string compiler = dir / "slow.sh";
  std::ofstream(compiler) << "#!/bin/sh\necho run >> '" << (dir / "runs.log")
                          << "'\nsleep 1\ncat \"$1\" > \"$2\"\n";
  ASSERT_EQ(::chmod(compiler.c_str(), 0755), 0);
  auto job = [&](const std::string& host) {
    return run(machine(host), "exec --remote '" + remote() + "' --input " + ONNX_TEST_MODEL + " --output " +
                                  (dir / (host + ".engine")) + " -- " + compiler + " " + ONNX_TEST_MODEL +
                                  " " + (dir / (host + ".engine")));
  };
  auto a = std::async(std::launch::async, job, "a");
  auto b = std::async(std::launch::async, job, "b");
  const CliRun ra = a.get(), rb = b.get();
  ASSERT_EQ(ra.exit_code, 0) << ra.output;
  ASSERT_EQ(rb.exit_code, 0) << rb.output;
  std::ifstream runs(dir / "runs.log");
  int count = 0;
  for (std::string line; std::getline(runs, line);) ++count;
  EXPECT_EQ(count, 1) << "one host compiles, the other waits for it";
  EXPECT_EQ(testing::read_text(dir / "a.engine"), testing::read_text(ONNX_TEST_MODEL));
  EXPECT_EQ(testing::read_text(dir / "b.engine"), testing::read_text(ONNX_TEST_MODEL));
}

TEST_F(CliRemoteTest, StatsSummaryCountsEachLookupOnceOverBothTiers) {
  ASSERT_EQ(
      run(machine("a"), "put " + key + " " + (dir / "engine.bin") + " --remote '" + remote() + "'").exit_code,
      0);
  // Machine b: a local miss that Redis serves is one hit, not a miss and a hit.
  ASSERT_EQ(
      run(machine("b"), "get " + key + " " + (dir / "out.bin") + " --remote '" + remote() + "'").exit_code,
      0);
  nlohmann::json stats = stats_json(machine("b"), "--remote '" + remote() + "'");
  EXPECT_EQ(stats["hits"], 1) << stats.dump();
  EXPECT_EQ(stats["misses"], 0) << stats.dump();
  // A key in neither tier: one miss.
  EXPECT_EQ(run(machine("b"), "get " + std::string(64, 'e') + " - --remote '" + remote() + "'").exit_code, 1);
  stats = stats_json(machine("b"), "--remote '" + remote() + "'");
  EXPECT_EQ(stats["hits"], 1) << stats.dump();
  EXPECT_EQ(stats["misses"], 1) << stats.dump();
}

TEST_F(CliRemoteTest, ReadOnlyAcceptsOnAndClearFollowsTheRuleOfRm) {
  // GRAPHCACHE_REMOTE_READ_ONLY=on is read-only like =1 (one boolean syntax everywhere).
  ASSERT_EQ(run(machine("a") + " GRAPHCACHE_REMOTE_READ_ONLY=on",
                "put " + key + " " + (dir / "engine.bin") + " --remote '" + remote() + "'")
                .exit_code,
            0);
  EXPECT_TRUE(server.keys("cli:m:*").empty());
  ASSERT_EQ(
      run(machine("a"), "put " + key + " " + (dir / "engine.bin") + " --remote '" + remote() + "'").exit_code,
      0);
  ASSERT_FALSE(server.keys("cli:m:*").empty());
  // Read-only: clear leaves the remote alone, as rm does.
  CliRun clear = run(machine("a") + " GRAPHCACHE_REMOTE_READ_ONLY=yes", "clear --remote '" + remote() + "'");
  EXPECT_EQ(clear.exit_code, 0) << clear.output;
  EXPECT_FALSE(server.keys("cli:m:*").empty());
  // Writable: clear removes both tiers, as rm does.
  ASSERT_EQ(
      run(machine("a"), "put " + key + " " + (dir / "engine.bin") + " --remote '" + remote() + "'").exit_code,
      0);
  clear = run(machine("a"), "clear --remote '" + remote() + "'");
  EXPECT_EQ(clear.exit_code, 0) << clear.output;
  EXPECT_NE(clear.output.find("remote 1"), std::string::npos) << clear.output;
  EXPECT_TRUE(server.keys("cli:m:*").empty());
  EXPECT_EQ(run(machine("b"), "get " + key + " - --remote '" + remote() + "'").exit_code, 1);
}

}  // namespace
}  // namespace graphcache
