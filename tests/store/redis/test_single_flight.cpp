// Single-flight across real processes (tests/store/redis/sf_worker.cpp) with a real redis-server: one build
// for 8 concurrent callers, takeover after the builder is SIGKILLed, the locks' own guarantees, and the
// fallback to file locks when Redis is down.
#include <gtest/gtest.h>
#include <spawn.h>

#include <atomic>
#include <thread>

#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/single_flight.hpp"
#include "redis_server.hpp"
#include "test_util.hpp"

#ifndef SF_WORKER
#error "SF_WORKER must name the worker executable"
#endif

namespace graphcache {
namespace {

using testing::count_lines;
using testing::read_text;
using testing::RedisServer;
using testing::TempDir;
using testing::test_key;

class Worker {
 public:
  Worker(const std::vector<std::string>& args, const std::string& output) : output_(output) {
    std::vector<std::string> all = {SF_WORKER};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    if (posix_spawn(&pid_, SF_WORKER, &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Worker() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Waits for exit; returns the exit code (-1 if killed).
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string output() const { return read_text(output_); }

 private:
  std::string output_;
  pid_t pid_ = -1;
};

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

void run_eight_workers(const std::vector<std::string>& store_args, const TempDir& dir, uint64_t size) {
  const std::string count_file = dir / "builds.txt";
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 8; ++i) {
    std::vector<std::string> args = {"--key",  test_key(100).hex(),  "--count-file", count_file,
                                     "--size", std::to_string(size), "--build-ms",   "1500"};
    args.insert(args.end(), store_args.begin(), store_args.end());
    workers.push_back(std::make_unique<Worker>(args, dir / ("out" + std::to_string(i))));
  }
  int built = 0, waited = 0;
  for (auto& worker : workers) {
    EXPECT_EQ(worker->wait(), 0) << worker->output();
    const std::string out = worker->output();
    EXPECT_NE(out.find("intact=1"), std::string::npos) << out;
    built += out.find("source=built") != std::string::npos;
    waited += out.find("source=waited") != std::string::npos;
  }
  EXPECT_EQ(count_lines(count_file), 1u) << "the build must run exactly once:\n" << read_text(count_file);
  EXPECT_EQ(built, 1);
  EXPECT_EQ(waited, 7);
}

TEST(SingleFlightProcesses, EightProcessesOneRedisLockedBuild) {
  RedisServer server;
  TempDir dir;
  run_eight_workers({"--redis", server.url() + "?prefix=sf8:", "--lock-ttl-ms", "3000"}, dir, 5 << 20);
  EXPECT_TRUE(server.keys("sf8:lock:*").empty()) << "the lock is released after the build";
}

TEST(SingleFlightProcesses, EightProcessesOneBuildWithLayeredStore) {
  RedisServer server;
  TempDir dir;
  run_eight_workers(
      {"--redis", server.url() + "?prefix=sf8l:", "--local", dir / "cache", "--lock-dir", dir / "locks"}, dir,
      1 << 20);
}

TEST(SingleFlightProcesses, EightProcessesOneFileLockedBuildWithoutRemote) {
  TempDir dir;
  run_eight_workers({"--local", dir / "cache", "--lock-dir", dir / "locks"}, dir, 1 << 20);
}

TEST(SingleFlightProcesses, KilledBuilderLockExpiresAndAnotherTakesOver) {
  RedisServer server;
  TempDir dir;
  const std::string count_file = dir / "builds.txt";
  const std::string key = test_key(101).hex();
  const std::vector<std::string> common = {"--key",         key,       "--count-file",
                                           count_file,      "--redis", server.url() + "?prefix=sfk:",
                                           "--lock-ttl-ms", "1000"};
  std::vector<std::string> slow = common;
  slow.insert(slow.end(), {"--build-ms", "60000"});
  Worker builder(slow, dir / "builder.out");
  ASSERT_TRUE(wait_until([&] { return count_lines(count_file) == 1; }, std::chrono::seconds(10)));
  // Refreshes keep the lock alive well past its 1 s TTL while the builder lives.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(server.command("EXISTS sfk:lock:%s", key.c_str())->integer, 1);

  ::kill(builder.pid(), SIGKILL);
  EXPECT_EQ(builder.wait(), -1);
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(server.command("EXISTS sfk:lock:%s", key.c_str())->integer, 1)
      << "the dead builder's lock lingers";

  std::vector<std::string> fast = common;
  fast.insert(fast.end(), {"--build-ms", "0"});
  Worker successor(fast, dir / "successor.out");
  EXPECT_EQ(successor.wait(), 0);
  const auto took = std::chrono::steady_clock::now() - killed_at;
  EXPECT_NE(successor.output().find("source=built"), std::string::npos) << successor.output();
  EXPECT_NE(successor.output().find("intact=1"), std::string::npos) << successor.output();
  // The dead holder refreshed every ttl/3, so its lock had 2/3..1 TTL left: the successor waited that out.
  EXPECT_GT(took, std::chrono::milliseconds(500));
  EXPECT_EQ(count_lines(count_file), 2u);
  EXPECT_LT(took, std::chrono::milliseconds(5000)) << "took over within about one TTL";
}

TEST(RedisLock, ExclusiveReleasedAndRefreshedWhileHeld) {
  RedisServer server;
  RedisLockService locks(server.config("lk:"), std::chrono::milliseconds(300));
  RedisLockService other_host(server.config("lk:"), std::chrono::milliseconds(300));
  const Key key = test_key(102);
  {
    std::unique_ptr<BuildLock> held = locks.try_acquire(key);
    ASSERT_TRUE(held);
    EXPECT_FALSE(other_host.try_acquire(key));
    EXPECT_TRUE(other_host.is_held(key));
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // > 3 TTLs: only refreshes keep it
    EXPECT_FALSE(other_host.try_acquire(key));
    EXPECT_TRUE(held->still_held());
    EXPECT_TRUE(other_host.try_acquire(test_key(103))) << "locks are per key";
  }
  EXPECT_FALSE(other_host.is_held(key));
  EXPECT_TRUE(other_host.try_acquire(key));
}

TEST(RedisLock, StaleHolderDoesNotReleaseTheNewHoldersLock) {
  RedisServer server;
  RedisLockService locks(server.config("lk:"), std::chrono::milliseconds(300));
  const Key key = test_key(104);
  std::unique_ptr<BuildLock> stale = locks.try_acquire(key);
  ASSERT_TRUE(stale);
  server.command("DEL lk:lock:%s", key.hex().c_str());  // as if it expired while the holder stalled
  std::unique_ptr<BuildLock> fresh = locks.try_acquire(key);
  ASSERT_TRUE(fresh);
  ASSERT_TRUE(wait_until([&] { return !stale->still_held(); }, std::chrono::seconds(2)))
      << "the stale holder notices at its next refresh";
  stale.reset();  // its check-and-delete must leave the fresh lock alone
  EXPECT_TRUE(locks.is_held(key));
  EXPECT_TRUE(fresh->still_held());
}

TEST(FileLock, ExclusiveAcrossOpenFilesAndCleansUp) {
  TempDir dir;
  FileLockService a(dir / "locks"), b(dir / "locks");
  const Key key = test_key(105);
  {
    std::unique_ptr<BuildLock> held = a.try_acquire(key);
    ASSERT_TRUE(held);
    EXPECT_FALSE(b.try_acquire(key));
    EXPECT_TRUE(b.is_held(key));
  }
  EXPECT_FALSE(b.is_held(key));
  EXPECT_TRUE(std::filesystem::is_empty(dir / "locks")) << "lock files are removed on release";
  EXPECT_TRUE(b.try_acquire(key));
}

TEST(SingleFlightThreads, RedisDownFallsBackToFileLocksWithOneWarning) {
  TempDir dir;
  RedisServer server;
  RedisConfig config = server.config("fb:");
  server.kill();
  StoreConfig local_config;
  local_config.cache_dir = dir / "cache";
  local_config.fsync = false;
  LocalStore store(local_config);
  std::vector<std::string> warnings;
  std::mutex warnings_mutex;
  SingleFlight flight(store, std::make_unique<RedisLockService>(config, std::chrono::milliseconds(1000)),
                      std::make_unique<FileLockService>(dir / "locks"), SingleFlightOptions{},
                      [&](const std::string& w) {
                        std::lock_guard lock(warnings_mutex);
                        warnings.push_back(w);
                      });
  std::atomic<int> builds = 0;
  std::vector<std::thread> threads;
  std::atomic<int> intact = 0;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      GetOrBuildResult r = flight.get_or_build(test_key(106), [&] {
        ++builds;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        BuiltEngine built;
        built.bytes = testing::test_bytes(106, 1000);
        return built;
      });
      const std::vector<uint8_t> expected = testing::test_bytes(106, 1000);
      intact +=
          r.entry.engine->size() == 1000 && std::memcmp(r.entry.engine->data(), expected.data(), 1000) == 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(builds.load(), 1);
  EXPECT_EQ(intact.load(), 4);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("using file locks"), std::string::npos) << warnings[0];
}

TEST(SingleFlightThreads, FailedBuildPropagatesAndReleasesTheLock) {
  TempDir dir;
  StoreConfig local_config;
  local_config.cache_dir = dir / "cache";
  local_config.fsync = false;
  LocalStore store(local_config);
  SingleFlight flight(store, nullptr, std::make_unique<FileLockService>(dir / "locks"));
  EXPECT_THROW(
      flight.get_or_build(test_key(107), []() -> BuiltEngine { throw Error(ErrorKind::kInternal, "boom"); }),
      Error);
  GetOrBuildResult r = flight.get_or_build(test_key(107), [] {
    BuiltEngine built;
    built.bytes = {1, 2, 3};
    return built;
  });
  EXPECT_EQ(r.source, GetOrBuildResult::Source::kBuilt);
  EXPECT_EQ(flight.get_or_build(test_key(107), []() -> BuiltEngine { throw std::logic_error("not called"); })
                .source,
            GetOrBuildResult::Source::kCache);
}

}  // namespace
}  // namespace graphcache
