// Writers SIGKILLed at random points of many puts: afterwards no entry is corrupt, every put that
// returned is readable byte for byte, and the killed writers' temp files are cleaned up.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "graphcache/local_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::ScratchDir;

struct CompletedPut {
  uint64_t seed;
  uint64_t size;
};

// Puts unique keys forever; after each put returns, appends a record to the log (one write, O_APPEND).
[[noreturn]] void writer(const std::string& cache_dir, const std::string& log_path, uint64_t writer_id,
                         bool fsync) {
  StoreConfig config = testing::test_config(cache_dir);
  config.fsync = fsync;
  config.compress = writer_id % 2 == 1;
  LocalStore store(config, [](const std::string&) {});
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::mt19937_64 rng(writer_id);
  for (uint64_t i = 0;; ++i) {
    const uint64_t seed = (writer_id << 32) | i;
    const size_t size = 16 + rng() % (512 << 10);
    std::vector<uint8_t> payload = testing::make_payload(seed, size);
    store.put(testing::key_from_seed(seed), EngineSource::from_memory(payload.data(), payload.size()), {});
    CompletedPut record{seed, payload.size()};
    if (::write(log, &record, sizeof(record)) != sizeof(record)) ::_exit(3);
  }
}

TEST(CrashSafety, SigkilledWritersLeaveNoCorruptEntries) {
  ScratchDir dir;
  const std::string cache = dir / "cache";
  const std::string log = dir / "completed.log";
  std::mt19937_64 rng(2024);
  constexpr int kRounds = 12;
  constexpr int kWriters = 4;
  uint64_t next_writer = 1;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<pid_t> pids;
    for (int w = 0; w < kWriters; ++w) {
      const uint64_t id = next_writer++;
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) writer(cache, log, id, /*fsync=*/round % 3 == 0);
      pids.push_back(pid);
    }
    // Kill each writer at its own random moment: mid-write, mid-fsync, mid-rename, mid-log...
    for (pid_t pid : pids) {
      std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 40000));
      ::kill(pid, SIGKILL);
    }
    for (pid_t pid : pids) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "writer failed on its own: " << status;
    }
  }

  std::vector<std::string> warnings;
  LocalStore store(testing::test_config(cache), [&](const std::string& w) { warnings.push_back(w); });
  const size_t temps_before = testing::count_temp_files(cache);
  VerifyReport report = store.verify();
  EXPECT_EQ(report.corrupt, 0u);
  EXPECT_EQ(report.ok, report.checked);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(report.stale_temps_removed, temps_before) << "killed writers' temp files are stale";
  EXPECT_EQ(testing::count_temp_files(cache), 0u);

  std::ifstream in(log, std::ios::binary);
  CompletedPut record;
  size_t completed = 0;
  while (in.read(reinterpret_cast<char*>(&record), sizeof(record))) {
    ++completed;
    auto entry = store.get(testing::key_from_seed(record.seed));
    ASSERT_TRUE(entry) << "completed put " << record.seed << " is missing";
    uint64_t seed = 0;
    ASSERT_TRUE(testing::payload_is_intact(entry->engine->data(), entry->engine->size(), &seed));
    EXPECT_EQ(seed, record.seed);
    EXPECT_EQ(entry->engine->size(), record.size);
  }
  EXPECT_GT(completed, size_t{kRounds}) << "the test must actually complete puts between kills";
  EXPECT_GE(report.checked, completed);
  std::printf("crash safety: %zu completed puts, %llu entries, %zu temp files of killed writers cleaned\n",
              completed, static_cast<unsigned long long>(report.checked), temps_before);
}

}  // namespace
}  // namespace graphcache
