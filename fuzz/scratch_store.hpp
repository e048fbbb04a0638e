// The real LocalStore that the fuzz targets write into: a fresh folder under $TMPDIR (removed at exit),
// no size caps, no fsync (thousands of inputs a second), warnings discarded (corrupt input is the point).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "graphcache/local_store.hpp"

namespace graphcache::fuzz {

inline LocalStore& scratch_store() {
  static const std::string dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "graphcache-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    return pattern;
  }();
  static LocalStore local(
      [] {
        StoreConfig config;
        config.cache_dir = dir;
        config.max_size = 0;
        config.max_entries = 0;
        config.fsync = false;
        return config;
      }(),
      [](const std::string&) {});
  // Registered after `dir` is constructed, so it runs before `dir` is destroyed.
  static const bool cleanup = [] {
    std::atexit([] { std::filesystem::remove_all(dir); });
    return true;
  }();
  (void)cleanup;
  return local;
}

}  // namespace graphcache::fuzz
