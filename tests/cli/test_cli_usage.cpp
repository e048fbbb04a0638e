// What a newcomer meets first: usage errors, booleans, `~` in paths, `show`, `put` over the size cap.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_test_util.hpp"
#include "graphcache/local_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::run_cli;
using testing::RunResult;
using testing::ScratchDir;

TEST(CliUsage, UsageErrorsAreOneLineWithExitTwo) {
  RunResult r = run_cli({"ls", "--no-such-flag"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("graphcache: error: ", 0), 0u) << r.err;
  r = run_cli({"get"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("graphcache: error: ", 0), 0u) << r.err;
  r = run_cli({});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(run_cli({"--help"}).status, 0);
  EXPECT_EQ(run_cli({"ls", "--help"}).status, 0);
  EXPECT_EQ(run_cli({"--version"}).status, 0);
}

TEST(CliUsage, MistypedCommandGetsASuggestion) {
  RunResult r = run_cli({"--cache-dir", "/tmp/x", "sats"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("did you mean 'stats'?"), std::string::npos) << r.err;
  r = run_cli({"exce"});
  EXPECT_NE(r.err.find("did you mean 'exec'?"), std::string::npos) << r.err;
}

TEST(CliUsage, ExecWithoutDoubleDashHints) {
  ScratchDir dir;
  RunResult r =
      run_cli({"exec", "--cache-dir", dir / "c", "-i", "m.onnx", "-o", "m.plan", "trtexec", "--onnx=m.onnx"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("after '--'"), std::string::npos) << r.err;
}

TEST(CliUsage, PutMetaRefitModeAndShow) {
  ScratchDir dir;
  const std::string cache = dir / "cache";
  const std::string key = std::string(64, 'e');
  std::ofstream(dir / "e.bin") << "engine bytes";
  ASSERT_EQ(run_cli({"put", key, dir / "e.bin", "--meta", "refit_mode=refittable", "--meta", "tool=trtexec",
                     "--cache-dir", cache})
                .status,
            0);
  RunResult human = run_cli({"show", key, "--cache-dir", cache});
  EXPECT_EQ(human.status, 0);
  EXPECT_NE(human.out.find("refittable"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("tool = trtexec"), std::string::npos) << human.out;
  RunResult json = run_cli({"show", "--json", key, "--cache-dir", cache});
  EXPECT_NE(json.out.find("\"refit_mode\": \"refittable\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"engine_bytes\": 12"), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("\"refit_mode\": \"refittable\"", json.out.find("extra")), std::string::npos)
      << "refit_mode is the entry's field, not an extra";
  EXPECT_EQ(run_cli({"show", std::string(64, 'f'), "--cache-dir", cache}).status, 1);
  // show is not a use: no hit or miss counted.
  RunResult stats = run_cli({"stats", "--json", "--cache-dir", cache});
  EXPECT_NE(stats.out.find("\"hits\": 0,"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("\"misses\": 0,"), std::string::npos) << stats.out;
}

TEST(CliUsage, PutLargerThanMaxSizeIsRefusedAndKeepsTheCache) {
  ScratchDir dir;
  const std::string cache = dir / "cache";
  std::ofstream(dir / "small.bin") << "small";
  ASSERT_EQ(run_cli({"put", std::string(64, 'a'), dir / "small.bin", "--cache-dir", cache}).status, 0);
  std::ofstream(dir / "big.bin") << std::string(64 * 1024, 'x');
  RunResult r =
      run_cli({"put", std::string(64, 'b'), dir / "big.bin", "--max-size", "16K", "--cache-dir", cache});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("larger than the cache's max size"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("stored"), std::string::npos) << r.out;
  EXPECT_EQ(LocalStore(testing::test_config(cache)).list().size(), 1u) << "nothing else was evicted";
}

TEST(CliUsage, BooleansAcceptOnOffEverywhere) {
  ScratchDir dir;
  const std::string cache = dir / "cache";
  std::ofstream(dir / "e.bin") << "engine";
  for (const char* value : {"on", "off", "YES", "no", "true", "0"}) {
    EXPECT_EQ(run_cli({"put", std::string(64, 'a'), dir / "e.bin", "--compress", value, "--cache-dir", cache})
                  .status,
              0)
        << value;
  }
  RunResult bad = run_cli({"ls", "--cache-dir", cache}, ".",
                          {"GRAPHCACHE_REMOTE=redis://127.0.0.1:1/0", "GRAPHCACHE_REMOTE_READ_ONLY=maybe"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("GRAPHCACHE_REMOTE_READ_ONLY"), std::string::npos) << bad.err;
  // =on is read-only: clear leaves the (unreachable) remote alone instead of trying to delete there.
  RunResult clear = run_cli({"clear", "--cache-dir", cache}, ".",
                            {"GRAPHCACHE_REMOTE=redis://127.0.0.1:1/0", "GRAPHCACHE_REMOTE_READ_ONLY=on"});
  EXPECT_EQ(clear.status, 0) << clear.err;
  EXPECT_NE(clear.out.find("read-only remote is left alone"), std::string::npos) << clear.out;
}

TEST(CliUsage, TildeInPathsMeansHome) {
  ScratchDir dir;
  std::ofstream(dir / "gc.conf") << "cache_dir = ~/engines\n";
  std::ofstream(dir / "e.bin") << "engine";
  std::filesystem::create_directory(dir / "home");
  const std::string home = "HOME=" + (dir / "home");
  RunResult r =
      run_cli({"put", std::string(64, 'a'), dir / "e.bin", "--config", "~/../gc.conf"}, dir.path(), {home});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(LocalStore(testing::test_config(dir / "home/engines")).list().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir / "~")) << "no literal ~ folder in the working directory";
}

TEST(CliUsage, ProfilesAreCheckedAgainstTheModel) {
  const std::string model =
      std::string(GRAPHCACHE_MODELS) + "/tiny_cnn.onnx";  // image: float32[batch,3,32,32]
  RunResult by_name = run_cli({"key", model, "--profile", "image:1x3x32x32:8x3x32x32:32x3x32x32"});
  RunResult by_index = run_cli({"key", model, "--profile", "0:1x3x32x32:8x3x32x32:32x3x32x32"});
  ASSERT_EQ(by_name.status, 0) << by_name.err;
  EXPECT_EQ(by_name.out, by_index.out) << "a name and its index are the same input";
  for (const char* bad : {"0:1x3:8x3:32x3",                       // rank 2 for a rank-4 input
                          "0:1x4x32x32:8x4x32x32:32x4x32x32",     // static dim 1 is 3
                          "0:8x3x32x32:1x3x32x32:32x3x32x32",     // min > opt
                          "img:1x3x32x32:8x3x32x32:32x3x32x32",   // no such input
                          "1:1x3x32x32:8x3x32x32:32x3x32x32"}) {  // one input only
    RunResult r = run_cli({"key", model, "--profile", bad});
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_EQ(r.err.rfind("graphcache: error: --profile", 0), 0u) << r.err;
  }
}

TEST(CliUsage, DiffJsonAndSecureWeights) {
  const std::string models = GRAPHCACHE_MODELS;
  RunResult same = run_cli({"diff", "--json", models + "/tiny_cnn.onnx", models + "/tiny_cnn_renamed.onnx"});
  EXPECT_EQ(same.status, 0);
  EXPECT_NE(same.out.find("\"identical\": true"), std::string::npos) << same.out;
  RunResult differ =
      run_cli({"diff", "--json", models + "/tiny_cnn.onnx", models + "/tiny_cnn_swapped.onnx"});
  EXPECT_EQ(differ.status, 1);
  EXPECT_NE(differ.out.find("\"identical\": false"), std::string::npos) << differ.out;
  EXPECT_NE(differ.out.find("\"differences\": ["), std::string::npos) << differ.out;
  RunResult fast = run_cli({"key", "--weights", models + "/tiny_cnn.onnx"});
  RunResult secure = run_cli({"key", "--weights", "--secure", models + "/tiny_cnn.onnx"});
  ASSERT_EQ(secure.status, 0);
  EXPECT_EQ(fast.out.substr(0, 64), secure.out.substr(0, 64)) << "the structural key does not change";
  EXPECT_NE(fast.out, secure.out) << "the weight fingerprint does";
}

}  // namespace
}  // namespace graphcache
