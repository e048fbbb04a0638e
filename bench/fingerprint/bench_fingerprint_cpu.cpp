// CPU weight fingerprint throughput, side by side in one run on one buffer / file:
//   memcpy of the buffer (1 thread and T threads), the fingerprint (1 and T threads, fast and secure),
//   the fingerprint of the same bytes as a memory-mapped file, `sha256sum` and `xxhsum -H2` on the file.
// Usage: bench_fingerprint_cpu [GiB=1] [threads=hardware_concurrency] [dir=/tmp]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "graphcache/fingerprint.hpp"

#include "../bench_usage.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using graphcache::FingerprintMode;
using graphcache::FingerprintOptions;
using graphcache::WeightView;

double best_seconds(int repeats, const std::function<void()>& run) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

void parallel_for(unsigned threads, uint64_t size, const std::function<void(uint64_t, uint64_t)>& body) {
  std::vector<std::jthread> workers;
  const uint64_t slice = (size / threads + 4095) / 4096 * 4096;
  for (unsigned t = 0; t < threads; ++t) {
    const uint64_t begin = std::min(size, t * slice), end = std::min(size, begin + slice);
    workers.emplace_back([&body, begin, end] { body(begin, end); });
  }
}

void fill_random(std::vector<uint8_t>& buffer, unsigned threads) {
  parallel_for(threads, buffer.size(), [&](uint64_t begin, uint64_t end) {
    uint64_t state = begin * 0x9E3779B97F4A7C15ULL + 1;
    for (uint64_t i = begin; i < end; i += 8) {
      state += 0x9E3779B97F4A7C15ULL;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      z ^= z >> 31;
      std::memcpy(buffer.data() + i, &z, std::min<uint64_t>(8, end - i));
    }
  });
}

std::string hex(const graphcache::Digest& digest) {
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (uint8_t byte : digest.bytes) {
    text.push_back(digits[byte >> 4]);
    text.push_back(digits[byte & 15]);
  }
  return text;
}

void row(const char* what, double seconds, double bytes, double reference_gbps) {
  const double gbps = bytes / seconds / 1e9;
  std::printf("%-44s %9.3f s %9.2f GB/s %8.2fx\n", what, seconds, gbps, gbps / reference_gbps);
}

}  // namespace

int main(int argc, char** argv) {
  graphcache::bench::exit_if_help(
      argc, argv,
      "bench_fingerprint_cpu [GiB (default 1)] [THREADS (default: all cores)] [DIR (default /tmp)]\n  memcpy "
      "vs the weight fingerprint (fast and secure) vs sha256sum / xxhsum on one buffer");
  const double gib = argc > 1 ? std::atof(argv[1]) : 1.0;
  const unsigned threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2]))
                                    : std::max(1u, std::thread::hardware_concurrency());
  const std::filesystem::path dir = argc > 3 ? argv[3] : "/tmp";
  const auto size = static_cast<uint64_t>(gib * double(uint64_t{1} << 30));
  constexpr int kRepeats = 3;

  std::vector<uint8_t> buffer(size), copy(size);
  fill_random(buffer, threads);
  std::memset(copy.data(), 1, copy.size());  // fault the destination in before timing memcpy

  auto fingerprint = [&](unsigned thread_count, FingerprintMode mode, const WeightView& view) {
    FingerprintOptions options;
    options.threads = thread_count;
    options.mode = mode;
    return graphcache::fingerprint_weights({view}, options);
  };
  WeightView memory{graphcache::ir::DType::kFloat16, {static_cast<int64_t>(size / 2)}, {}, "buffer"};
  memory.data.source = graphcache::ir::WeightData::Source::kMemory;
  memory.data.pointer = buffer.data();
  memory.data.length = size;

  const double memcpy_1 = best_seconds(kRepeats, [&] { std::memcpy(copy.data(), buffer.data(), size); });
  const double memcpy_t = best_seconds(kRepeats, [&] {
    parallel_for(threads, size,
                 [&](uint64_t b, uint64_t e) { std::memcpy(copy.data() + b, buffer.data() + b, e - b); });
  });
  const double fast_1 = best_seconds(kRepeats, [&] { fingerprint(1, FingerprintMode::kFast, memory); });
  const double fast_t = best_seconds(kRepeats, [&] { fingerprint(threads, FingerprintMode::kFast, memory); });
  const double secure_1 = best_seconds(1, [&] { fingerprint(1, FingerprintMode::kSecure, memory); });
  const double secure_t =
      best_seconds(kRepeats, [&] { fingerprint(threads, FingerprintMode::kSecure, memory); });

  const std::filesystem::path file = dir / ("graphcache-bench-" + std::to_string(::getpid()) + ".bin");
  {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(size));
  }
  WeightView mapped = memory;
  mapped.data = {};
  mapped.data.source = graphcache::ir::WeightData::Source::kFile;
  mapped.data.path = file.string();
  mapped.data.length = size;
  const bool same =
      fingerprint(threads, FingerprintMode::kFast, mapped) == fingerprint(1, FingerprintMode::kFast, memory);
  const double file_t = best_seconds(kRepeats, [&] { fingerprint(threads, FingerprintMode::kFast, mapped); });
  const std::string quoted = "'" + file.string() + "'";
  auto tool = [&](const std::string& command) {
    return best_seconds(kRepeats, [&] {
      if (std::system((command + " " + quoted + " > /dev/null").c_str()) != 0)
        std::printf("(%s failed)\n", command.c_str());
    });
  };
  const double sha256sum = tool("sha256sum");
  const double xxhsum = tool("xxhsum -H2");
  std::filesystem::remove(file);

  const double reference = size / memcpy_t / 1e9;
  std::printf("buffer %.2f GiB, %u threads, best of %d; ratio column = GB/s / memcpy(%u threads) GB/s\n", gib,
              threads, kRepeats, threads);
  std::printf("fingerprint %s (memory and mmap'd file agree: %s)\n",
              hex(fingerprint(threads, FingerprintMode::kFast, memory)).c_str(), same ? "yes" : "NO");
  row("memcpy, 1 thread", memcpy_1, size, reference);
  row(("memcpy, " + std::to_string(threads) + " threads").c_str(), memcpy_t, size, reference);
  row("fingerprint fast (XXH3-128), 1 thread", fast_1, size, reference);
  row(("fingerprint fast, " + std::to_string(threads) + " threads").c_str(), fast_t, size, reference);
  row(("fingerprint fast, mmap'd file, " + std::to_string(threads) + " threads").c_str(), file_t, size,
      reference);
  row("fingerprint secure (SHA-256), 1 thread", secure_1, size, reference);
  row(("fingerprint secure, " + std::to_string(threads) + " threads").c_str(), secure_t, size, reference);
  row("sha256sum (file, page cache)", sha256sum, size, reference);
  row("xxhsum -H2 (XXH128, file, page cache)", xxhsum, size, reference);
  return same ? 0 : 1;
}
