// What the store benchmarks share: timing, a real `cat` process as the yardstick, reproducible engine
// bytes and keys.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"

namespace graphcache::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <typename F>
double median_seconds(int repeats, F&& run) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    run();
    times.push_back(seconds_since(start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// `cat path > out` as a real process (out: /dev/null, or a file to also pay the write a copy pays).
inline void run_cat(const std::string& path, const std::string& out = "/dev/null") {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out_fd, STDOUT_FILENO);
    ::execlp("cat", "cat", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("cat failed");
}

// Incompressible, reproducible engine bytes.
inline void fill_random(uint8_t* out, uint64_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out + i, &v, 8);
  }
}

inline std::vector<uint8_t> random_bytes(uint64_t size, uint64_t seed) {
  std::vector<uint8_t> out(size);
  fill_random(out.data(), size, seed);
  return out;
}

inline Key key_of(uint64_t i) {
  std::mt19937_64 rng(i + 1);
  Key k;
  for (auto& b : k.bytes) b = static_cast<uint8_t>(rng());
  return k;
}

}  // namespace graphcache::bench
