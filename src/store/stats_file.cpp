#include "stats_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "graphcache/error.hpp"

namespace graphcache::store {
namespace {

constexpr int kShards = 16;
constexpr size_t kSlots = 8;  // hits, misses, puts, evictions, corrupt, errors, bytes_read, bytes_written
using Slots = std::array<uint64_t, kSlots>;

// An open, flock'ed file; unlocks and closes on scope exit.
class LockedFile {
 public:
  LockedFile(const std::string& path, int lock_kind) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return;
    while (::flock(fd_, lock_kind) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
    }
  }
  ~LockedFile() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
  }
  LockedFile(const LockedFile&) = delete;
  LockedFile& operator=(const LockedFile&) = delete;
  bool ok() const { return fd_ >= 0; }

  // A short or missing file reads as zeros (a fresh shard).
  template <typename T>
  T load() const {
    T value{};
    ssize_t n = ::pread(fd_, &value, sizeof(value), 0);
    if (n != static_cast<ssize_t>(sizeof(value))) value = T{};
    return value;
  }
  template <typename T>
  bool store(const T& value) {
    return ::pwrite(fd_, &value, sizeof(value), 0) == static_cast<ssize_t>(sizeof(value));
  }

 private:
  int fd_ = -1;
};

Slots to_slots(const CounterDelta& d) {
  return {d.hits, d.misses, d.puts, d.evictions, d.corrupt, d.errors, d.bytes_read, d.bytes_written};
}

}  // namespace

StatsFiles::StatsFiles(std::string stats_dir) : dir_(std::move(stats_dir)) {
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    throw Error(ErrorKind::kIo, "cannot create stats directory '" + dir_ + "': " + std::strerror(errno));
  }
}

bool StatsFiles::add(const CounterDelta& delta) noexcept {
  LockedFile f(dir_ + "/shard-" + std::to_string(::getpid() % kShards), LOCK_EX);
  if (!f.ok()) return false;
  Slots slots = f.load<Slots>();
  Slots add = to_slots(delta);
  for (size_t i = 0; i < kSlots; ++i) slots[i] += add[i];
  return f.store(slots);
}

bool StatsFiles::add_usage(int64_t entries, int64_t bytes) noexcept {
  LockedFile f(dir_ + "/usage", LOCK_EX);
  if (!f.ok()) return false;
  Usage u = f.load<Usage>();
  u.entries = std::max<int64_t>(0, u.entries + entries);
  u.bytes = std::max<int64_t>(0, u.bytes + bytes);
  return f.store(u);
}

bool StatsFiles::set_usage(Usage usage) noexcept {
  LockedFile f(dir_ + "/usage", LOCK_EX);
  return f.ok() && f.store(usage);
}

Usage StatsFiles::usage() const noexcept {
  LockedFile f(dir_ + "/usage", LOCK_SH);
  return f.ok() ? f.load<Usage>() : Usage{};
}

StoreStats StatsFiles::read() const noexcept {
  Slots sum{};
  for (int shard = 0; shard < kShards; ++shard) {
    std::string path = dir_ + "/shard-" + std::to_string(shard);
    if (::access(path.c_str(), F_OK) != 0) continue;
    LockedFile f(path, LOCK_SH);
    if (!f.ok()) continue;
    Slots s = f.load<Slots>();
    for (size_t i = 0; i < kSlots; ++i) sum[i] += s[i];
  }
  StoreStats st;
  st.hits = sum[0];
  st.misses = sum[1];
  st.puts = sum[2];
  st.evictions = sum[3];
  st.corrupt = sum[4];
  st.errors = sum[5];
  st.bytes_read = sum[6];
  st.bytes_written = sum[7];
  Usage u = usage();
  st.entries = static_cast<uint64_t>(u.entries);
  st.stored_bytes = static_cast<uint64_t>(u.bytes);
  return st;
}

void StatsFiles::zero() noexcept {
  for (int shard = 0; shard < kShards; ++shard) {
    LockedFile f(dir_ + "/shard-" + std::to_string(shard), LOCK_EX);
    if (f.ok()) f.store(Slots{});
  }
}

}  // namespace graphcache::store
