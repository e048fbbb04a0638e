// Names and directory walking for the local store: <dir>/<aa>/<bb>/<key hex> entries and
// <dir>/<aa>/<bb>/.tmp-<pid>-<random>-<host> temp files of puts in progress.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"

namespace graphcache::store {

std::string fanout_dir(const std::string& root, const Key& key);  // <root>/<aa>/<bb>
std::string entry_file(const std::string& root, const Key& key);
// False if <root>/<aa> or <root>/<aa>/<bb> exists as something other than a real directory (e.g. a
// symlink leading out of the cache). Missing directories count as real: put creates them.
bool fanout_dirs_are_real(const std::string& root, const Key& key);
// A fresh, unique temp file name (not path) for this process.
std::string temp_file_name();
bool is_temp_file_name(const std::string& name);
// True if the temp file's writer is gone (dead pid on this host) or it is older than max_age_seconds.
bool is_stale_temp(const std::string& name, int64_t mtime_unix, int64_t now_unix, int64_t max_age_seconds);

struct ScannedFile {
  std::string path;
  Key key;  // entries only
  uint64_t size = 0;
  int64_t atime = 0, mtime = 0;
  dev_t dev = 0;
  ino_t ino = 0;
};

struct ScanResult {
  std::vector<ScannedFile> entries;
  std::vector<ScannedFile> temps;
  uint64_t entry_bytes = 0;
};

// Walks the two fan-out levels (only 2-hex-digit directories; other files are left alone). Entries are
// files whose name is a valid key in the right fan-out directory. Files that vanish midway are skipped.
ScanResult scan_store(const std::string& root);

}  // namespace graphcache::store
