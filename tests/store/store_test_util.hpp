// Helpers shared by the store tests: scratch directories, keys and self-describing payloads whose
// bytes can be checked without knowing who wrote them.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"
#include "graphcache/local_store.hpp"

namespace graphcache::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "graphcache-store-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Key key_from_seed(uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  Key k;
  for (auto& b : k.bytes) b = static_cast<uint8_t>(rng());
  return k;
}

// A payload that carries its own seed and length in the first 16 bytes; the rest follows from the seed.
inline std::vector<uint8_t> make_payload(uint64_t seed, size_t size) {
  std::vector<uint8_t> out(std::max<size_t>(size, 16));
  std::memcpy(out.data(), &seed, 8);
  const uint64_t n = out.size();
  std::memcpy(out.data() + 8, &n, 8);
  std::mt19937_64 rng(seed);
  for (size_t i = 16; i < out.size(); ++i) out[i] = static_cast<uint8_t>(rng() >> 24);
  return out;
}

// True if `data` is exactly a payload made by make_payload (any seed); sets *seed.
inline bool payload_is_intact(const uint8_t* data, uint64_t size, uint64_t* seed = nullptr) {
  if (size < 16) return false;
  uint64_t s, n;
  std::memcpy(&s, data, 8);
  std::memcpy(&n, data + 8, 8);
  if (n != size) return false;
  std::vector<uint8_t> expected = make_payload(s, size);
  if (std::memcmp(expected.data(), data, size) != 0) return false;
  if (seed) *seed = s;
  return true;
}

inline StoreConfig test_config(const std::string& dir) {
  StoreConfig c;
  c.cache_dir = dir;
  c.max_size = 0;
  c.max_entries = 0;
  c.fsync = false;  // the page cache survives SIGKILL; fsync only matters for power loss
  return c;
}

inline size_t count_temp_files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().filename().string().starts_with(".tmp-")) ++n;
  }
  return n;
}

}  // namespace graphcache::testing
