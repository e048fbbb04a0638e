// Many processes on one cache directory under a tight size cap: mixed get/put/gc from 8 processes x 600
// operations. No read may be corrupt or mixed, the shared counters must add up to what the processes
// did, and after a final gc the cap holds.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <fstream>
#include <random>

#include "graphcache/local_store.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

using testing::ScratchDir;

constexpr int kProcesses = 8;
constexpr int kOpsPerProcess = 600;
constexpr uint64_t kKeys = 48;
constexpr uint64_t kMaxSize = 768 << 10;  // the working set is ~2.4 MiB: eviction runs all the time

struct ProcessResult {
  uint64_t gets = 0, hits = 0, misses = 0, puts = 0, gcs = 0, bad_reads = 0, warnings = 0, errors = 0;
};

// Payloads for key k carry seeds k + kKeys * n: a read can check it got a payload written for its key.
ProcessResult run_worker(const std::string& cache_dir, int worker) {
  ProcessResult r;
  StoreConfig config = testing::test_config(cache_dir);
  config.max_size = kMaxSize;
  config.compress = worker % 2 == 0;  // readers must handle both kinds of entries
  LocalStore store(config, [&](const std::string&) { ++r.warnings; });
  std::mt19937_64 rng(static_cast<uint64_t>(worker) * 7919);
  for (int op = 0; op < kOpsPerProcess; ++op) {
    const uint64_t k = rng() % kKeys;
    const uint64_t dice = rng() % 100;
    try {
      if (dice < 50) {
        ++r.gets;
        auto entry = store.get(testing::key_from_seed(k));
        if (entry) {
          ++r.hits;
          uint64_t seed = 0;
          if (!testing::payload_is_intact(entry->engine->data(), entry->engine->size(), &seed) ||
              seed % kKeys != k) {
            ++r.bad_reads;
          }
        } else {
          ++r.misses;
        }
      } else if (dice < 95) {
        const uint64_t seed =
            k + kKeys * (static_cast<uint64_t>(worker) * kOpsPerProcess + static_cast<uint64_t>(op));
        std::vector<uint8_t> payload = testing::make_payload(seed, 1024 + rng() % (100 << 10));
        store.put(testing::key_from_seed(k), EngineSource::from_memory(payload.data(), payload.size()), {});
        ++r.puts;
      } else {
        store.gc();
        ++r.gcs;
      }
    } catch (const std::exception&) {
      ++r.errors;
    }
  }
  return r;
}

TEST(Concurrency, ManyProcessesMixedOperationsUnderTightCap) {
  ScratchDir dir;
  const std::string cache = dir / "cache";
  std::vector<pid_t> pids;
  for (int w = 0; w < kProcesses; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ProcessResult r = run_worker(cache, w);
      std::ofstream(dir / ("result-" + std::to_string(w)), std::ios::binary)
          .write(reinterpret_cast<const char*>(&r), sizeof(r));
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  ProcessResult total;
  for (int w = 0; w < kProcesses; ++w) {
    ProcessResult r;
    std::ifstream(dir / ("result-" + std::to_string(w)), std::ios::binary)
        .read(reinterpret_cast<char*>(&r), sizeof(r));
    EXPECT_EQ(r.gets + r.puts + r.gcs + r.errors, static_cast<uint64_t>(kOpsPerProcess)) << "worker " << w;
    total.gets += r.gets;
    total.hits += r.hits;
    total.misses += r.misses;
    total.puts += r.puts;
    total.bad_reads += r.bad_reads;
    total.warnings += r.warnings;
    total.errors += r.errors;
  }
  EXPECT_EQ(total.bad_reads, 0u);
  EXPECT_EQ(total.warnings, 0u) << "no corrupt entry was ever seen";
  EXPECT_EQ(total.errors, 0u);
  EXPECT_GT(total.hits, 0u);
  EXPECT_GT(total.misses, 0u);

  StoreConfig config = testing::test_config(cache);
  config.max_size = kMaxSize;
  LocalStore store(config);
  StoreStats s = store.stats();
  EXPECT_EQ(s.hits, total.hits);
  EXPECT_EQ(s.misses, total.misses);
  EXPECT_EQ(s.hits + s.misses, total.gets);
  EXPECT_EQ(s.puts, total.puts);
  EXPECT_EQ(s.corrupt, 0u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_GT(s.evictions, 0u) << "the cap was tight enough to evict";

  GcReport gc = store.gc();
  EXPECT_LE(gc.bytes_after, kMaxSize);
  uint64_t on_disk = 0;
  for (const EntryInfo& e : store.list()) on_disk += e.stored_bytes;
  EXPECT_LE(on_disk, kMaxSize);
  EXPECT_EQ(store.stats().stored_bytes, on_disk) << "usage is exact after gc";
  EXPECT_EQ(store.verify().corrupt, 0u);
  EXPECT_EQ(testing::count_temp_files(cache), 0u);
  std::printf("concurrency: %llu gets (%llu hits), %llu puts, %llu evictions, %llu bytes after gc\n",
              static_cast<unsigned long long>(total.gets), static_cast<unsigned long long>(total.hits),
              static_cast<unsigned long long>(total.puts), static_cast<unsigned long long>(s.evictions),
              static_cast<unsigned long long>(on_disk));
}

}  // namespace
}  // namespace graphcache
