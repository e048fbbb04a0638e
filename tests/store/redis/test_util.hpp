// Scratch directories, keys and checkable payloads for the Redis-tier tests.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"
#include "graphcache/store.hpp"

namespace graphcache::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "graphcache-redis-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Key test_key(uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 7);
  Key key;
  for (auto& b : key.bytes) b = static_cast<uint8_t>(rng());
  return key;
}

// Deterministic bytes that differ per seed and position (fast enough for gigabytes).
inline std::vector<uint8_t> test_bytes(uint64_t seed, size_t size) {
  std::vector<uint8_t> out(size);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    __builtin_memcpy(out.data() + i, &state, 8);
  }
  for (; i < size; ++i) out[i] = static_cast<uint8_t>(seed + i);
  return out;
}

inline EntryMetadata test_metadata(const std::string& tag) {
  EntryMetadata m;
  m.key_parts = {{"structure", "ab"}, {"settings", tag}};
  m.input_names = {"x", "y"};
  m.output_names = {"out"};
  m.weight_slots = {"w0"};
  m.refit_mode = "refittable";
  m.tool_versions = {{"tensorrt", "10.3.0"}};
  m.extra = {{"tag", tag}};
  m.created_unix = 1700000000;
  return m;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline size_t count_lines(const std::string& path) {
  size_t n = 0;
  for (char c : read_text(path)) n += c == '\n';
  return n;
}

}  // namespace graphcache::testing
