#include "local_layout.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <random>

#include "common/unique_fd.hpp"

namespace graphcache::store {
namespace {

constexpr std::string_view kTempPrefix = ".tmp-";

bool is_hex2(const char* name) {
  return std::strlen(name) == 2 && std::isxdigit(static_cast<unsigned char>(name[0])) &&
         std::isxdigit(static_cast<unsigned char>(name[1])) &&
         !std::isupper(static_cast<unsigned char>(name[0])) &&
         !std::isupper(static_cast<unsigned char>(name[1]));
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  std::string host(buf);
  for (char& c : host) {
    if (c == '/' || c == '-') c = '_';
  }
  return host;
}

const std::string& this_host() {
  static const std::string host = host_name();
  return host;
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// Opens a directory without following a symlink at `path`: a symlinked fan-out directory must never
// lead list/gc/verify/clear (which unlink what they find) outside the cache.
DirPtr open_dir_nofollow(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return nullptr;
  DIR* d = ::fdopendir(fd.get());
  if (d != nullptr) fd.release();  // the DIR owns it now
  return DirPtr(d);
}

std::vector<std::string> hex2_subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DirPtr d = open_dir_nofollow(dir);
  if (!d) return out;
  while (dirent* e = ::readdir(d.get())) {
    struct stat st;
    if (is_hex2(e->d_name) && ::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
      out.emplace_back(e->d_name);
    }
  }
  return out;
}

}  // namespace

std::string fanout_dir(const std::string& root, const Key& key) {
  const std::string hex = key.hex();
  return root + "/" + hex.substr(0, 2) + "/" + hex.substr(2, 2);
}

std::string entry_file(const std::string& root, const Key& key) {
  return fanout_dir(root, key) + "/" + key.hex();
}

bool fanout_dirs_are_real(const std::string& root, const Key& key) {
  const std::string hex = key.hex();
  struct stat st;
  for (const std::string& dir : {root + "/" + hex.substr(0, 2), fanout_dir(root, key)}) {
    if (::lstat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) return false;
  }
  return true;
}

std::string temp_file_name() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (static_cast<uint64_t>(::getpid()) << 32)};
  char random[17];
  std::snprintf(random, sizeof(random), "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(kTempPrefix) + std::to_string(::getpid()) + "-" + random + "-" + this_host();
}

bool is_temp_file_name(const std::string& name) {
  return name.starts_with(kTempPrefix);
}

bool is_stale_temp(const std::string& name, int64_t mtime_unix, int64_t now_unix, int64_t max_age_seconds) {
  if (now_unix - mtime_unix > max_age_seconds) return true;
  // .tmp-<pid>-<16 hex>-<host>
  size_t pid_end = name.find('-', kTempPrefix.size());
  if (pid_end == std::string::npos || pid_end + 18 > name.size()) return false;
  const std::string host = name.substr(pid_end + 18);
  if (host != this_host()) return false;  // another machine sharing the directory: only age counts
  long pid = std::strtol(name.c_str() + kTempPrefix.size(), nullptr, 10);
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

ScanResult scan_store(const std::string& root) {
  ScanResult result;
  for (const std::string& a : hex2_subdirs(root)) {
    const std::string dir_a = root + "/" + a;
    for (const std::string& b : hex2_subdirs(dir_a)) {
      const std::string dir = dir_a + "/" + b;
      DirPtr d = open_dir_nofollow(dir);
      if (!d) continue;
      while (dirent* e = ::readdir(d.get())) {
        const std::string name = e->d_name;
        const bool temp = is_temp_file_name(name);
        Key key;
        if (!temp) {
          if (!Digest::is_valid_hex(name) || name.compare(0, 2, a) != 0 || name.compare(2, 2, b) != 0)
            continue;
          key = Digest::from_hex(name);
        }
        struct stat st;
        if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
          continue;
        ScannedFile f{dir + "/" + name, key,      static_cast<uint64_t>(st.st_size), st.st_atime, st.st_mtime,
                      st.st_dev,        st.st_ino};
        if (temp) {
          result.temps.push_back(std::move(f));
        } else {
          result.entry_bytes += f.size;
          result.entries.push_back(std::move(f));
        }
      }
    }
  }
  return result;
}

}  // namespace graphcache::store
