// Get of a big entry vs reading the same file: `cat FILE > /dev/null` (a real cat process) and a read()
// loop into a buffer (what a consumer that wants the bytes in memory pays), all with a hot page cache,
// in one run. get = open + read into fresh private memory + checksum of every byte (+ metadata parse):
// the private copy makes the served bytes immune to truncation and in-place rewrites (README.md here).
//
//   bench_store_get_vs_cat [SIZE (default 1G)] [DIR (default $TMPDIR)] [REPEATS (default 5)]
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "graphcache/error.hpp"
#include "graphcache/local_store.hpp"

#include "../bench_usage.hpp"
#include "bench_common.hpp"

namespace {

using namespace graphcache::bench;

uint64_t read_into(const std::string& path, uint8_t* buffer, uint64_t capacity) {
  int fd = ::open(path.c_str(), O_RDONLY);
  uint64_t total = 0;
  for (ssize_t n; total < capacity &&
                  (n = ::read(fd, buffer + total, std::min<uint64_t>(capacity - total, 1 << 30))) > 0;) {
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(
      argc, argv,
      "bench_store_get_vs_cat [SIZE (default 1G)] [DIR (default $TMPDIR)] [REPEATS (default 5)]\n  local get "
      "of one big entry vs cat and a read() loop of the same bytes");
  try {
    const uint64_t size = argc > 1 ? graphcache::parse_size(argv[1]) : (1ull << 30);
    const std::string base = argc > 2 ? argv[2] : std::filesystem::temp_directory_path().string();
    const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
    const std::string dir = base + "/graphcache-bench-store-" + std::to_string(::getpid());

    graphcache::StoreConfig config;
    config.cache_dir = dir;
    config.max_size = 0;
    config.fsync = false;
    graphcache::LocalStore store(config);

    auto engine = std::make_unique<uint8_t[]>(size);
    fill_random(engine.get(), size, 1);
    graphcache::Key key;
    key.bytes[0] = 0x42;
    const auto put_start = Clock::now();
    store.put(key, graphcache::EngineSource::from_memory(engine.get(), size), {});
    const double put_s = seconds_since(put_start);
    const std::string path = store.entry_path(key);

    // Warm the page cache for everyone.
    run_cat(path);
    const double cat_s = median_seconds(repeats, [&] { run_cat(path); });
    const double read_s = median_seconds(repeats, [&] {
      if (read_into(path, engine.get(), size) != size) throw std::runtime_error("short read");
    });
    uint64_t checksum_guard = 0;
    const double get_s = median_seconds(repeats, [&] {
      auto entry = store.get(key);
      if (!entry || entry->engine->size() != size) throw std::runtime_error("get missed");
      checksum_guard += entry->engine->data()[size - 1];
    });

    const double gib = static_cast<double>(size) / (1ull << 30);
    std::printf("entry: %.2f GiB at %s (put %.2f s, %.2f GiB/s, no fsync)\n", gib, path.c_str(), put_s,
                gib / put_s);
    std::printf("%-28s %10s %10s %12s\n", "hot page cache, median of", "seconds", "GiB/s", "vs cat");
    std::printf("%-28s %10.3f %10.2f %12s\n", "cat FILE > /dev/null", cat_s, gib / cat_s, "1.00x");
    std::printf("%-28s %10.3f %10.2f %11.2fx\n", "read() into a buffer", read_s, gib / read_s,
                read_s / cat_s);
    std::printf("%-28s %10.3f %10.2f %11.2fx\n", "LocalStore::get (verified)", get_s, gib / get_s,
                get_s / cat_s);
    std::printf("(get/read ratio %.2f; %d repeats; guard %llu)\n", get_s / read_s, repeats,
                static_cast<unsigned long long>(checksum_guard % 2));
    std::filesystem::remove_all(dir);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_store_get_vs_cat: %s\n", e.what());
    return 1;
  }
}
