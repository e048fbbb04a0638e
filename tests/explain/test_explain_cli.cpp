// `graphcache explain`, `put --model`, `exec -v` miss explanations and `exec --min-compile-time`, run as
// the real binary on the bundled models, locally and with a real redis-server as the remote tier.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "redis_server.hpp"

namespace graphcache::testing {
namespace {

const std::string kModel = std::string(GRAPHCACHE_MODELS) + "/tiny_cnn.onnx";
const std::string kSwapped = std::string(GRAPHCACHE_MODELS) + "/tiny_cnn_swapped.onnx";

class ExplainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gc_explain_cli_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    env_ = {"GRAPHCACHE_DIR=" + (dir_ / "cache").string()};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  RunResult cli(std::vector<std::string> args) { return run_cli(args, dir_.string(), env_); }
  std::string put_model(const std::vector<std::string>& options, const std::string& model = kModel) {
    std::vector<std::string> key_args{"key", model};
    key_args.insert(key_args.end(), options.begin(), options.end());
    RunResult k = cli(key_args);
    EXPECT_EQ(k.status, 0);
    const std::string key = k.out.substr(0, 64);
    std::ofstream(dir_ / "e.plan") << "engine";
    std::vector<std::string> put{"put", key, (dir_ / "e.plan").string(), "--model", model};
    put.insert(put.end(), options.begin(), options.end());
    EXPECT_EQ(cli(put).status, 0);
    return key;
  }

  // The event log's lines as JSON.
  std::vector<nlohmann::json> events(const std::string& log) {
    std::ifstream in(log);
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  std::filesystem::path dir_;
  std::vector<std::string> env_;
};

TEST_F(ExplainCli, HitSettingToolchainSpecRefitMode) {
  put_model({"--setting", "precision=fp16", "--toolchain", "tensorrt=10.3", "--refit-mode", "refittable"});
  RunResult hit = cli({"explain", kModel, "--setting", "precision=fp16", "--toolchain", "tensorrt=10.3",
                       "--refit-mode", "refittable"});
  EXPECT_EQ(hit.status, 0);
  EXPECT_EQ(hit.out.rfind("hit: ", 0), 0u) << hit.out;
  RunResult miss = cli({"explain", kModel, "--setting", "precision=fp32", "--toolchain", "tensorrt=10.4",
                        "--refit-mode", "none", "--profile", "image:1x3x32x32:8x3x32x32:32x3x32x32"});
  EXPECT_EQ(miss.status, 1);
  EXPECT_NE(miss.out.find("setting precision: 'fp16' in the cached entry, 'fp32' now"), std::string::npos)
      << miss.out;
  EXPECT_NE(miss.out.find("toolchain tensorrt: '10.3' in the cached entry, '10.4' now"), std::string::npos);
  EXPECT_NE(miss.out.find("refit mode: 'refittable' in the cached entry, 'none' now"), std::string::npos);
  // "none" keys the weight fingerprint (read from the model's initializers), which the entry did not.
  EXPECT_NE(miss.out.find("setting graphcache.weight_fingerprint: '(absent)' in the cached entry"),
            std::string::npos)
      << miss.out;
  EXPECT_NE(miss.out.find("input spec #0 'image': '(absent)' in the cached entry, 'min 1x3x32x32"),
            std::string::npos);
}

TEST_F(ExplainCli, LsShowsTheRecordedFactors) {
  const std::string key = put_model({"--setting", "precision=fp16", "--toolchain", "tensorrt=10.3"});
  RunResult ls = cli({"ls"});
  EXPECT_EQ(ls.status, 0);
  EXPECT_NE(ls.out.find(key), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find(std::string("model=") + kModel), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("precision=fp16 tensorrt=10.3"), std::string::npos) << ls.out;
  RunResult json = cli({"ls", "--json"});
  EXPECT_EQ(json.status, 0);
  const auto j = nlohmann::json::parse(json.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["factors"]["settings"]["precision"], "fp16");
  EXPECT_EQ(j[0]["factors"]["toolchain"]["tensorrt"], "10.3");
  EXPECT_EQ(j[0]["factors"]["model"], kModel);
}

TEST_F(ExplainCli, NodeAsDiffPrintsItAndJson) {
  put_model({});
  RunResult e = cli({"explain", "--json", kSwapped});
  EXPECT_EQ(e.status, 1);
  const auto j = nlohmann::json::parse(e.out);
  EXPECT_EQ(j["result"], "nearest_structure");
  const auto& d = j["candidates"][0]["differences"][0];
  EXPECT_EQ(d["kind"], "node");
  // The same first differing node as `graphcache diff` names.
  RunResult diff = cli({"diff", kModel, kSwapped});
  EXPECT_NE(diff.out.find("op Gemm (v13) in A, Constant (v13) in B"), std::string::npos) << diff.out;
  EXPECT_EQ(d["text"],
            "operand 0 of node 'sub' (Sub (v14)): op Gemm (v13) in the cached entry, Constant (v13) now");
}

TEST_F(ExplainCli, NoneCloseOnAnEmptyCacheAndPutRefusesAWrongModel) {
  RunResult e = cli({"explain", kModel});
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.out.find("no cached entry is close (0 indexed entries)"), std::string::npos) << e.out;
  std::ofstream(dir_ / "e.plan") << "engine";
  RunResult bad = cli({"put", std::string(64, 'a'), (dir_ / "e.plan").string(), "--model", kModel});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("with these key options has key"), std::string::npos) << bad.err;
}

TEST_F(ExplainCli, ExecExplainsItsMissAndSkipsCheapCompiles) {
  const std::string out = (dir_ / "tiny.plan").string();
  RunResult first = cli({"exec", "--json", "--input", kModel, "--output", out, "--min-compile-time", "100",
                         "--", "cp", kModel, out});
  EXPECT_EQ(first.status, 0);
  EXPECT_NE(first.out.find("\"result\":\"built\",\"stored\":false"), std::string::npos) << first.out;
  RunResult stored = cli({"exec", "--json", "--input", kModel, "--output", out, "--", "cp", kModel, out});
  EXPECT_NE(stored.out.find("\"stored\":true"), std::string::npos) << stored.out;
  // Another compiler argument: a miss, explained against the stored entry.
  RunResult again =
      cli({"exec", "-v", "--input", kModel, "--output", out, "--setting", "opt=3", "--", "cp", kModel, out});
  EXPECT_EQ(again.status, 0);
  EXPECT_NE(again.err.find("cached entries with the same structure differ in:"), std::string::npos)
      << again.err;
  EXPECT_NE(again.err.find("setting opt: '(absent)' in the cached entry, '3' now"), std::string::npos);
}

TEST_F(ExplainCli, OverRedisFromAnotherHostsCache) {
  RedisServer redis;
  env_.push_back("GRAPHCACHE_REMOTE=" + redis.url() + "/0?prefix=cli:");
  put_model({"--setting", "precision=fp16"});
  env_[0] = "GRAPHCACHE_DIR=" + (dir_ / "other_host").string();  // an empty local tier: only Redis knows
  RunResult e = cli({"explain", kModel, "--setting", "precision=int8"});
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.out.find("(redis, model"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("setting precision: 'fp16' in the cached entry, 'int8' now"), std::string::npos);
  RunResult node = cli({"explain", kSwapped, "--setting", "precision=fp16"});
  EXPECT_NE(node.out.find("op Gemm (v13) in the cached entry, Constant (v13) now"), std::string::npos)
      << node.out;
}

TEST_F(ExplainCli, EventLogRecordsLookupsAndPutsAsJsonLines) {
  const std::string log = (dir_ / "events.jsonl").string();
  env_.push_back("GRAPHCACHE_EVENT_LOG=" + log);
  const std::string out = (dir_ / "tiny.plan").string();
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(cli({"exec", "--input", kModel, "--output", out, "--", "cp", kModel, out}).status, 0);
  EXPECT_EQ(cli({"get", std::string(64, 'b'), out}).status, 1);
  std::ifstream in(log);
  std::vector<std::string> events;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    events.push_back(j.at("event").get<std::string>());
    EXPECT_EQ(j.at("tier"), "local");
    if (events.back() != "miss") {
      EXPECT_GT(j.at("bytes").get<uint64_t>(), 0u) << line;
      EXPECT_EQ(j.value("model", ""), kModel) << "exec's entry names its model: " << line;
    }
  }
  EXPECT_EQ(events, (std::vector<std::string>{"miss", "put", "hit", "miss"}));
  const auto stats = nlohmann::json::parse(cli({"stats", "--json"}).out);
  EXPECT_DOUBLE_EQ(stats.at("hit_rate").get<double>(), 1.0 / 3.0);  // 1 hit, 2 misses
}

TEST_F(ExplainCli, BundleImportedEntryIsExplainedWithoutARebuild) {
  env_[0] = "GRAPHCACHE_DIR=" + (dir_ / "ci").string();
  const std::string bundled = put_model({"--setting", "precision=fp16"});
  ASSERT_EQ(cli({"bundle", "create", (dir_ / "b.gcb").string(), "--all"}).status, 0);
  // The importing cache already has an index (another model's entry), so only the import can add the
  // bundled entry to it: a valid index is not rebuilt.
  env_[0] = "GRAPHCACHE_DIR=" + (dir_ / "cache").string();
  put_model({"--setting", "precision=fp16"}, kSwapped);
  ASSERT_TRUE(std::filesystem::exists(dir_ / "cache" / "explain.index"));
  ASSERT_EQ(cli({"bundle", "import", (dir_ / "b.gcb").string()}).status, 0);
  RunResult e = cli({"explain", kModel, "--setting", "precision=int8"});
  EXPECT_EQ(e.status, 1);
  // The imported entry, not the other model's, is the nearest.
  EXPECT_NE(e.out.find("cached entries with the same structure differ in:\n  entry " + bundled.substr(0, 16)),
            std::string::npos)
      << e.out;
  EXPECT_NE(e.out.find("setting precision: 'fp16' in the cached entry, 'int8' now"), std::string::npos)
      << e.out;
}

TEST_F(ExplainCli, EventLogRecordsEvictions) {
  const std::string log = (dir_ / "events.jsonl").string();
  env_.push_back("GRAPHCACHE_EVENT_LOG=" + log);
  env_.push_back("GRAPHCACHE_MAX_SIZE=3K");  // room for two of these entries
  std::ofstream(dir_ / "e.plan") << std::string(1000, 'e');
  std::vector<std::string> keys;
  for (char c : {'1', '2', '3', '4'}) {
    keys.push_back(std::string(64, c));
    ASSERT_EQ(cli({"put", keys.back(), (dir_ / "e.plan").string()}).status, 0);
  }
  size_t evictions = 0;
  for (const auto& j : events(log)) {
    if (j.at("event") != "evict") continue;
    ++evictions;
    EXPECT_EQ(j.at("tier"), "local");
    EXPECT_GT(j.at("bytes").get<uint64_t>(), 1000u);  // the entry file: engine, header, metadata
    const std::string key = j.at("key").get<std::string>();
    EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
    EXPECT_EQ(cli({"get", key, (dir_ / "out.plan").string()}).status, 1) << key << " was not evicted";
  }
  EXPECT_GE(evictions, 2u);  // four entries of which at most two fit
}

TEST_F(ExplainCli, EventLogRecordsCorruptEntries) {
  const std::string log = (dir_ / "events.jsonl").string();
  env_.push_back("GRAPHCACHE_EVENT_LOG=" + log);
  const std::string key(64, 'c');
  std::ofstream(dir_ / "e.plan") << std::string(1000, 'e');
  ASSERT_EQ(cli({"put", key, (dir_ / "e.plan").string()}).status, 0);
  const auto entry = dir_ / "cache" / "cc" / "cc" / key;
  const auto entry_bytes = std::filesystem::file_size(entry);
  {
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(entry_bytes - 10));
    f.put('X');  // a flipped payload byte: the checksum no longer matches
  }
  EXPECT_EQ(cli({"get", key, (dir_ / "out.plan").string()}).status, 1);
  EXPECT_FALSE(std::filesystem::exists(entry));
  std::vector<std::string> kinds;
  for (const auto& j : events(log)) {
    kinds.push_back(j.at("event").get<std::string>());
    if (kinds.back() != "corrupt") continue;
    EXPECT_EQ(j.at("key"), key);
    EXPECT_EQ(j.at("tier"), "local");
    EXPECT_EQ(j.at("bytes").get<uint64_t>(), entry_bytes);
    EXPECT_NE(j.at("detail").get<std::string>().find("checksum"), std::string::npos) << j.dump();
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"put", "corrupt", "miss"}));
}

}  // namespace
}  // namespace graphcache::testing
