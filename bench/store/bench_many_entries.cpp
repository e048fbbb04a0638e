// The store at many entries (default 100k small ones): put, get (hit and miss), list and gc scan
// times, to show the <aa>/<bb> fan-out keeps per-operation cost flat and full scans affordable.
//
//   bench_store_many_entries [ENTRIES (default 100000)] [DIR (default $TMPDIR)]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "graphcache/local_store.hpp"

#include "../bench_usage.hpp"
#include "bench_common.hpp"

using namespace graphcache::bench;

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(
      argc, argv,
      "bench_store_many_entries [ENTRIES (default 100000)] [DIR (default $TMPDIR)]\n  put, get, list and gc "
      "times of a store with ENTRIES small entries");
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const std::string base = argc > 2 ? argv[2] : std::filesystem::temp_directory_path().string();
  const std::string dir = base + "/graphcache-bench-many-" + std::to_string(::getpid());
  try {
    graphcache::StoreConfig config;
    config.cache_dir = dir;
    config.max_size = 0;
    config.max_entries = 0;
    config.fsync = false;
    graphcache::LocalStore store(config);
    std::vector<uint8_t> engine(1024, 0x5a);

    auto start = Clock::now();
    for (uint64_t i = 0; i < n; ++i) {
      store.put(key_of(i), graphcache::EngineSource::from_memory(engine.data(), engine.size()), {});
    }
    const double put_s = seconds_since(start);

    constexpr uint64_t kLookups = 20000;
    std::mt19937_64 rng(7);
    start = Clock::now();
    uint64_t hits = 0;
    for (uint64_t i = 0; i < kLookups; ++i) hits += store.get(key_of(rng() % n)).has_value();
    const double hit_s = seconds_since(start);
    start = Clock::now();
    for (uint64_t i = 0; i < kLookups; ++i) hits += store.get(key_of(n + i)).has_value();
    const double miss_s = seconds_since(start);

    start = Clock::now();
    const size_t listed = store.list().size();
    const double list_s = seconds_since(start);
    start = Clock::now();
    graphcache::GcReport under = store.gc();  // scan only: under the caps
    const double scan_s = seconds_since(start);
    start = Clock::now();
    graphcache::GcReport evicting = store.gc(0, n / 2);
    const double evict_s = seconds_since(start);

    std::printf("%llu entries of 1 KiB (no fsync)\n", static_cast<unsigned long long>(n));
    std::printf("%-34s %12s\n", "operation", "time");
    std::printf("%-34s %9.1f us\n", "put (per entry)", 1e6 * put_s / static_cast<double>(n));
    std::printf("%-34s %9.1f us\n", "get hit (per lookup)", 1e6 * hit_s / kLookups);
    std::printf("%-34s %9.1f us\n", "get miss (per lookup)", 1e6 * miss_s / kLookups);
    std::printf("%-34s %9.3f s\n", "ls (headers of all entries)", list_s);
    std::printf("%-34s %9.3f s\n", "gc scan, nothing to evict", scan_s);
    std::printf("%-34s %9.3f s\n", "gc evicting half (LRU sort+unlink)", evict_s);
    std::printf("(hits %llu, listed %zu, scanned %llu, evicted %llu)\n",
                static_cast<unsigned long long>(hits), listed,
                static_cast<unsigned long long>(under.entries_before),
                static_cast<unsigned long long>(evicting.evicted));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_store_many_entries: %s\n", e.what());
    std::filesystem::remove_all(dir);
    return 1;
  }
  std::filesystem::remove_all(dir);
  return 0;
}
