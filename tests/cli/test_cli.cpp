// The real `graphcache` binary end to end: store commands, and `exec` around a real shell script acting
// as the engine compiler (miss runs it and stores its output, hit does not run it, a failing compiler
// stores nothing and its exit status comes through).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "cli_test_util.hpp"
#include "graphcache/local_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::ScratchDir;

using testing::read_text;
using testing::run_cli;
using testing::RunResult;
using testing::write_script;

int count_lines(const std::string& path) {
  std::string text = read_text(path);
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

const std::string kModel = std::string(ONNX_TESTDATA) + "/node/test_add/model.onnx";
const std::string kOtherModel = std::string(ONNX_TESTDATA) + "/node/test_sub/model.onnx";

class Exec : public ::testing::Test {
 protected:
  void SetUp() override {
    // A "compiler": logs each run, then writes an engine derived from the model and its flags.
    write_script(dir_ / "compiler.sh", "echo run >> \"" + dir_ / "runs.log" +
                                           "\"\n"
                                           "in=\"$1\"; out=\"$2\"; shift 2\n"
                                           "{ echo \"engine for $*\"; cat \"$in\"; } > \"$out\"\n");
    // A compiler that writes half an engine and then fails.
    write_script(dir_ / "failing.sh", "echo run >> \"" + dir_ / "runs.log" +
                                          "\"\n"
                                          "echo partial > \"$2\"\n"
                                          "exit 3\n");
  }

  RunResult exec(const std::string& model, const std::string& output, std::vector<std::string> extra,
                 const std::string& compiler = "compiler.sh") {
    std::vector<std::string> args{"exec", "--cache-dir", cache_, "--input", model, "--output", output};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", dir_ / compiler, model, output, "--fp16"});
    return run_cli(args, dir_.path());
  }

  int runs() { return count_lines(dir_ / "runs.log"); }
  size_t entries() { return LocalStore(testing::test_config(cache_)).list().size(); }

  ScratchDir dir_;
  const std::string cache_ = dir_ / "cache";
};

TEST_F(Exec, MissRunsCompilerHitDoesNot) {
  ASSERT_EQ(exec(kModel, dir_ / "a.engine", {}).status, 0);
  EXPECT_EQ(runs(), 1);
  EXPECT_EQ(entries(), 1u);
  const std::string engine = read_text(dir_ / "a.engine");
  EXPECT_EQ(engine.rfind("engine for --fp16\n", 0), 0u) << engine;

  std::filesystem::remove(dir_ / "a.engine");
  ASSERT_EQ(exec(kModel, dir_ / "a.engine", {}).status, 0);
  EXPECT_EQ(runs(), 1) << "a hit must not run the compiler";
  EXPECT_EQ(read_text(dir_ / "a.engine"), engine);

  // Another output path is the same build: the path is normalized out of the command line.
  ASSERT_EQ(exec(kModel, dir_ / "b.engine", {}).status, 0);
  EXPECT_EQ(runs(), 1);
  EXPECT_EQ(read_text(dir_ / "b.engine"), engine);
}

TEST_F(Exec, OutputNotWrittenByThisRunIsNeverStored) {
  // A compiler that exits 0 without writing: the engine left by an earlier run must not be cached.
  write_script(dir_ / "lazy.sh", "echo run >> \"" + dir_ / "runs.log" + "\"\nexit 0\n");
  std::ofstream(dir_ / "a.engine") << "stale engine from yesterday";
  RunResult r = exec(kModel, dir_ / "a.engine", {}, "lazy.sh");
  EXPECT_EQ(r.status, 0) << "the build itself succeeded; only caching is refused";
  EXPECT_NE(r.err.find("did not write"), std::string::npos) << r.err;
  EXPECT_EQ(entries(), 0u);
  EXPECT_EQ(read_text(dir_ / "a.engine"), "stale engine from yesterday");
  // And with no old file either: nothing stored, no crash.
  std::filesystem::remove(dir_ / "a.engine");
  EXPECT_EQ(exec(kModel, dir_ / "a.engine", {}, "lazy.sh").status, 0);
  EXPECT_EQ(entries(), 0u);
}

TEST_F(Exec, StatsCountEachLookupOnce) {
  ASSERT_EQ(exec(kModel, dir_ / "a.engine", {}).status, 0);  // one miss (+ the compile and put)
  ASSERT_EQ(exec(kModel, dir_ / "b.engine", {}).status, 0);  // one hit
  RunResult stats = run_cli({"stats", "--json", "--cache-dir", cache_});
  EXPECT_NE(stats.out.find("\"hits\": 1,"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("\"misses\": 1,"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("\"puts\": 1,"), std::string::npos) << stats.out;
  RunResult human = run_cli({"stats", "--cache-dir", cache_});
  EXPECT_NE(human.out.find("(50.0%)"), std::string::npos) << human.out;
}

TEST_F(Exec, VerboseNamesTheKeyFactors) {
  RunResult r = exec(kModel, dir_ / "a.engine", {"-v", "--setting", "precision=fp16"});
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.err.find("structure"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("setting.precision = fp16"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("compiler.sha256 = "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("miss "), std::string::npos) << r.err;
  r = exec(kModel, dir_ / "a.engine", {"-v", "--setting", "precision=fp16"});
  EXPECT_NE(r.err.find("hit "), std::string::npos) << r.err;
}

TEST_F(Exec, KeyCoversModelSettingsAndCompiler) {
  ASSERT_EQ(exec(kModel, dir_ / "a.engine", {}).status, 0);
  ASSERT_EQ(exec(kOtherModel, dir_ / "a.engine", {}).status, 0);
  EXPECT_EQ(runs(), 2) << "another model structure is a miss";
  ASSERT_EQ(exec(kModel, dir_ / "a.engine", {"--setting", "precision=int8"}).status, 0);
  EXPECT_EQ(runs(), 3) << "another engine-relevant setting is a miss";
  // Same path, different compiler bytes: a miss.
  std::ofstream(dir_ / "compiler.sh", std::ios::app) << "# new compiler version\n";
  ASSERT_EQ(exec(kModel, dir_ / "a.engine", {}).status, 0);
  EXPECT_EQ(runs(), 4) << "a changed compiler binary is a miss";
  ASSERT_EQ(exec(kModel, dir_ / "a.engine", {}).status, 0);
  EXPECT_EQ(runs(), 4);
  EXPECT_EQ(entries(), 4u);
}

TEST_F(Exec, NewWeightsInTheSameStructureMiss) {
  // The compiler bakes weights into the engine, so exec keys on their fingerprint too.
  const std::string model = std::string(GRAPHCACHE_MODELS) + "/tiny_cnn.onnx";
  std::string bytes = read_text(model);
  ASSERT_EQ(exec(model, dir_ / "a.engine", {}).status, 0);
  // Flip one byte deep inside the largest initializer (fc.w): same structure, other weights.
  const std::string copy = dir_ / "tiny_cnn_new_weights.onnx";
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  std::ofstream(copy, std::ios::binary) << bytes;
  ASSERT_EQ(exec(copy, dir_ / "b.engine", {}).status, 0);
  EXPECT_EQ(runs(), 2) << "changed weights must not reuse an engine built with the old ones";
  ASSERT_EQ(exec(model, dir_ / "c.engine", {}).status, 0);
  EXPECT_EQ(runs(), 2) << "the original weights still hit";
}

TEST_F(Exec, ConcurrentMissesCompileOnce) {
  // Four jobs of a build farm start the same slow build at once: one compiles, three wait for it and
  // take the engine from the cache; every job ends with its engine written.
  write_script(dir_ / "slow.sh", "echo run >> \"" + dir_ / "runs.log" +
                                     "\"\n"
                                     "sleep 1\n"
                                     "{ echo \"engine\"; cat \"$1\"; } > \"$2\"\n");
  std::vector<std::future<RunResult>> jobs;
  for (int i = 0; i < 4; ++i) {
    const std::string out = dir_ / ("job" + std::to_string(i) + ".engine");
    jobs.push_back(std::async(std::launch::async, [this, out] { return exec(kModel, out, {}, "slow.sh"); }));
  }
  for (auto& job : jobs) EXPECT_EQ(job.get().status, 0);
  EXPECT_EQ(runs(), 1) << "the other three jobs must wait for the first build, not compile again";
  const std::string engine = read_text(dir_ / "job0.engine");
  EXPECT_EQ(engine.rfind("engine\n", 0), 0u);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(read_text(dir_ / ("job" + std::to_string(i) + ".engine")), engine);
  EXPECT_EQ(entries(), 1u);
  EXPECT_TRUE(std::filesystem::is_empty(cache_ + "/locks")) << "locks are released";
}

TEST_F(Exec, VerboseWaiterSaysWhoHoldsTheLock) {
  write_script(dir_ / "slow.sh", "echo run >> \"" + dir_ / "runs.log" +
                                     "\"\n"
                                     "sleep 2\n"
                                     "{ echo \"engine\"; cat \"$1\"; } > \"$2\"\n");
  auto builder =
      std::async(std::launch::async, [this] { return exec(kModel, dir_ / "a.engine", {}, "slow.sh"); });
  // Let the builder take the lock first.
  for (int i = 0; i < 100 && runs() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  RunResult waiter = exec(kModel, dir_ / "b.engine", {"-v"}, "slow.sh");
  EXPECT_EQ(builder.get().status, 0);
  EXPECT_EQ(waiter.status, 0);
  EXPECT_EQ(runs(), 1);
  EXPECT_NE(waiter.err.find("waiting for another build of"), std::string::npos) << waiter.err;
  EXPECT_NE(waiter.err.find("file lock held by pid "), std::string::npos) << waiter.err;
  EXPECT_NE(waiter.err.find(" s\n"), std::string::npos) << waiter.err;
}

TEST_F(Exec, JsonOutcomeAndSecureWeightKey) {
  RunResult built = exec(kModel, dir_ / "a.engine", {"--json"});
  ASSERT_EQ(built.status, 0);
  // The compiler's own stdout comes first; graphcache's JSON line is last.
  const std::string last = built.out.substr(built.out.rfind('{'));
  EXPECT_NE(last.find("\"result\":\"built\""), std::string::npos) << built.out;
  EXPECT_NE(last.find("\"stored\":true"), std::string::npos) << built.out;
  RunResult hit = exec(kModel, dir_ / "a.engine", {"--json"});
  EXPECT_NE(hit.out.find("\"result\":\"hit\""), std::string::npos) << hit.out;
  EXPECT_EQ(runs(), 1);
  // SHA-256 weight chunks are another fingerprint, hence another key.
  RunResult secure = exec(kModel, dir_ / "a.engine", {"--json", "--secure"});
  EXPECT_NE(secure.out.find("\"result\":\"built\""), std::string::npos) << secure.out;
  EXPECT_EQ(runs(), 2);
  RunResult failed = exec(kModel, dir_ / "a.engine", {"--json"}, "failing.sh");
  EXPECT_EQ(failed.status, 3);
  EXPECT_NE(failed.out.find("\"result\":\"failed\""), std::string::npos) << failed.out;
}

TEST_F(Exec, FailingCompilerStoresNothingAndPassesItsStatus) {
  EXPECT_EQ(exec(kModel, dir_ / "a.engine", {}, "failing.sh").status, 3);
  EXPECT_EQ(entries(), 0u);
  EXPECT_EQ(exec(kModel, dir_ / "a.engine", {}, "failing.sh").status, 3);
  EXPECT_EQ(runs(), 2) << "nothing was cached, so the compiler runs again";
  EXPECT_EQ(entries(), 0u);
}

TEST_F(Exec, UnreadableModelStillRunsTheCompilerUncached) {
  std::ofstream(dir_ / "broken.onnx") << "not a model";
  EXPECT_EQ(exec(dir_ / "broken.onnx", dir_ / "a.engine", {}).status, 0);
  EXPECT_EQ(runs(), 1);
  EXPECT_EQ(entries(), 0u);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "a.engine"));
}

TEST(Cli, StoreCommandsEndToEnd) {
  ScratchDir dir;
  const std::string cache = dir / "cache";
  const std::string key = std::string(64, 'a');
  std::vector<uint8_t> payload = testing::make_payload(5, 200000);
  std::ofstream(dir / "engine.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));

  EXPECT_EQ(run_cli({"put", key, dir / "engine.bin", "--meta", "tool=trtexec", "--cache-dir", cache}).status,
            0);
  EXPECT_EQ(run_cli({"--cache-dir", cache, "get", key, dir / "out.bin"}).status, 0);
  EXPECT_EQ(read_text(dir / "out.bin"), read_text(dir / "engine.bin"));
  EXPECT_EQ(run_cli({"--cache-dir", cache, "get", std::string(64, 'b'), dir / "miss.bin"}).status, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "miss.bin"));

  RunResult ls = run_cli({"ls", "--cache-dir", cache});
  EXPECT_EQ(ls.status, 0);
  EXPECT_NE(ls.out.find(key), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("200000"), std::string::npos) << ls.out;

  RunResult stats = run_cli({"stats", "--json", "--cache-dir", cache});
  EXPECT_NE(stats.out.find("\"hits\": 1"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("\"misses\": 1"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("\"puts\": 1"), std::string::npos) << stats.out;
  EXPECT_EQ(run_cli({"stats", "--zero", "--cache-dir", cache}).status, 0);
  EXPECT_NE(run_cli({"stats", "--json", "--cache-dir", cache}).out.find("\"hits\": 0"), std::string::npos);

  EXPECT_EQ(run_cli({"verify", "--cache-dir", cache}).status, 0);
  // Damage the entry on disk: verify reports it (exit 1) and removes it.
  LocalStore store(testing::test_config(cache));
  const std::string path = store.entry_path(Digest::from_hex(key));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x42');
  }
  RunResult verify = run_cli({"verify", "--cache-dir", cache});
  EXPECT_EQ(verify.status, 1);
  EXPECT_NE(verify.out.find("1 corrupt"), std::string::npos) << verify.out;
  EXPECT_FALSE(std::filesystem::exists(path));

  EXPECT_EQ(run_cli({"put", key, dir / "engine.bin", "--cache-dir", cache}).status, 0);
  EXPECT_EQ(run_cli({"rm", key, "--cache-dir", cache}).status, 0);
  EXPECT_EQ(run_cli({"rm", key, "--cache-dir", cache}).status, 1);

  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(
        run_cli({"put", testing::key_from_seed(i).hex(), dir / "engine.bin", "--cache-dir", cache}).status,
        0);
  }
  EXPECT_EQ(run_cli({"gc", "--max-size", "500K", "--cache-dir", cache}).status, 0);
  EXPECT_EQ(store.list().size(), 2u) << "90% of 500 KiB holds two 200 kB entries";
  RunResult clear = run_cli({"clear", "--cache-dir", cache});
  EXPECT_NE(clear.out.find("removed 2 entries"), std::string::npos) << clear.out;
  EXPECT_TRUE(store.list().empty());
}

TEST(Cli, ListingDoesNotChangeLruOrder) {
  ScratchDir dir;
  const std::string cache = dir / "cache";
  std::ofstream(dir / "e.bin") << "engine";
  const std::string key = std::string(64, 'd');
  ASSERT_EQ(run_cli({"put", key, dir / "e.bin", "--cache-dir", cache}).status, 0);
  const std::string path = LocalStore(testing::test_config(cache)).entry_path(Digest::from_hex(key));
  // Last used long ago (older than the mtime, so a plain read would advance it under relatime).
  const struct timespec old_times[2] = {{1000, 0}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old_times, 0), 0);
  EXPECT_EQ(run_cli({"ls", "--cache-dir", cache}).status, 0);
  EXPECT_EQ(run_cli({"ls", "--json", "--cache-dir", cache}).status, 0);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_atime, 1000) << "ls must not count as a use";
}

TEST(Cli, BadInputIsAOneLineErrorNotACrash) {
  ScratchDir dir;
  const std::string cache = dir / "cache";
  EXPECT_EQ(run_cli({"get", "../../etc/passwd", dir / "x", "--cache-dir", cache}).status, 2)
      << "key validated";
  EXPECT_EQ(run_cli({"put", std::string(64, 'a'), dir / "missing.bin", "--cache-dir", cache}).status, 2);
  EXPECT_EQ(run_cli({"gc", "--max-size", "12Q", "--cache-dir", cache}).status, 2);
  EXPECT_EQ(
      run_cli({"put", std::string(64, 'a'), dir / "x", "--meta", "novalue", "--cache-dir", cache}).status, 2);
}

TEST(Cli, EnvironmentSelectsTheCacheDirectory) {
  ScratchDir dir;
  ::setenv("GRAPHCACHE_DIR", (dir / "from-env").c_str(), 1);
  std::ofstream(dir / "e.bin") << "engine";
  EXPECT_EQ(run_cli({"put", std::string(64, 'c'), dir / "e.bin"}).status, 0);
  ::unsetenv("GRAPHCACHE_DIR");
  EXPECT_EQ(LocalStore(testing::test_config(dir / "from-env")).list().size(), 1u);
}

}  // namespace
}  // namespace graphcache
