#include "stats_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/unique_fd.hpp"
#include "graphcache/error.hpp"

namespace graphcache::store {
namespace {

constexpr int kShards = 16;
// hits, misses, puts, evictions, corrupt, errors, bytes_read, bytes_written, untrusted
constexpr size_t kSlots = 9;
using Slots = std::array<uint64_t, kSlots>;

// An open, flock'ed control file under the stats directory (opened relative to it, never through a
// symlink); unlocks and closes on scope exit. The lock is tried without blocking for at most `wait`:
// anyone who can read the stats files can hold their lock, and a lookup must never wait on that.
class LockedFile {
 public:
  LockedFile(int dir_fd, const std::string& name, int lock_kind, std::chrono::milliseconds wait) {
    if (dir_fd < 0) return;
    UniqueFd fd = open_at_nofollow(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_NONBLOCK);
    if (!fd.valid() && lock_kind == LOCK_SH)
      fd = open_at_nofollow(dir_fd, name.c_str(), O_RDONLY | O_NONBLOCK);
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (::flock(fd.get(), lock_kind | LOCK_NB) != 0) {
      if ((errno != EWOULDBLOCK && errno != EINTR) || std::chrono::steady_clock::now() >= deadline) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    fd_ = std::move(fd);
  }
  bool ok() const { return fd_.valid(); }

  // A short or missing file reads as zeros (a fresh shard).
  template <typename T>
  T load() const {
    T value{};
    ssize_t n = ::pread(fd_.get(), &value, sizeof(value), 0);
    // A shard written before a slot was appended is shorter: its slots count, the new ones read 0.
    if (n < 0) value = T{};
    return value;
  }
  template <typename T>
  bool store(const T& value) {
    return ::pwrite(fd_.get(), &value, sizeof(value), 0) == static_cast<ssize_t>(sizeof(value));
  }

 private:
  UniqueFd fd_;  // closing the last descriptor releases the flock
};

// Lookups and puts never wait for a stats lock; gc, verify and readers of the totals wait a little.
constexpr std::chrono::milliseconds kNoWait{0};
constexpr std::chrono::milliseconds kShortWait{200};

Slots to_slots(const CounterDelta& d) {
  return {d.hits,   d.misses,     d.puts,          d.evictions, d.corrupt,
          d.errors, d.bytes_read, d.bytes_written, d.untrusted};
}

}  // namespace

StatsFiles::StatsFiles(std::string stats_dir) : dir_(std::move(stats_dir)) {
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    // A read-only cache still serves hits; its counters are simply not recorded.
    if (errno != EACCES && errno != EROFS && errno != EPERM) {
      throw Error(ErrorKind::kIo, "cannot create stats directory '" + dir_ + "': " + std::strerror(errno));
    }
  }
  // Held for the store's lifetime: a stats/ replaced by a symlink later is not followed either.
  dir_fd_ = UniqueFd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

StatsFiles::~StatsFiles() {
  // Deltas deferred because their lock was busy get one more, short, chance.
  std::lock_guard lock(mutex_);
  if (pending_.any()) flush_locked(pending_, kShortWait);
  if (pending_usage_.entries != 0 || pending_usage_.bytes != 0) flush_usage_locked(kShortWait);
}

bool StatsFiles::flush_locked(const CounterDelta& delta, std::chrono::milliseconds wait) noexcept {
  LockedFile f(dir_fd_.get(), "shard-" + std::to_string(::getpid() % kShards), LOCK_EX, wait);
  if (!f.ok()) return false;
  Slots slots = f.load<Slots>();
  Slots add = to_slots(delta);
  for (size_t i = 0; i < kSlots; ++i) slots[i] += add[i];
  if (!f.store(slots)) return false;
  pending_ = CounterDelta{};
  return true;
}

bool StatsFiles::add(const CounterDelta& delta) noexcept {
  std::lock_guard lock(mutex_);
  pending_ += delta;
  if (pending_usage_.entries != 0 || pending_usage_.bytes != 0) flush_usage_locked(kNoWait);  // catch up
  if (dir_fd_.valid() && !flush_locked(pending_, kNoWait)) return true;  // deferred to the next update
  return dir_fd_.valid();
}

bool StatsFiles::flush_usage_locked(std::chrono::milliseconds wait) noexcept {
  LockedFile f(dir_fd_.get(), "usage", LOCK_EX, wait);
  if (!f.ok()) return false;
  Usage u = f.load<Usage>();
  u.entries = std::max<int64_t>(0, u.entries + pending_usage_.entries);
  u.bytes = std::max<int64_t>(0, u.bytes + pending_usage_.bytes);
  if (!f.store(u)) return false;
  pending_usage_ = Usage{};
  return true;
}

bool StatsFiles::add_usage(int64_t entries, int64_t bytes) noexcept {
  std::lock_guard lock(mutex_);
  pending_usage_.entries += entries;
  pending_usage_.bytes += bytes;
  if (dir_fd_.valid() && !flush_usage_locked(kNoWait)) return true;  // deferred
  return dir_fd_.valid();
}

bool StatsFiles::set_usage(Usage usage) noexcept {
  std::lock_guard lock(mutex_);
  LockedFile f(dir_fd_.get(), "usage", LOCK_EX, kShortWait);
  if (!f.ok() || !f.store(usage)) return false;
  pending_usage_ = Usage{};  // the exact figure supersedes deferred increments
  return true;
}

Usage StatsFiles::usage() const noexcept {
  LockedFile f(dir_fd_.get(), "usage", LOCK_SH, kShortWait);
  return f.ok() ? f.load<Usage>() : Usage{};
}

StoreStats StatsFiles::read() const noexcept {
  Slots sum{};
  for (int shard = 0; shard < kShards; ++shard) {
    const std::string name = "shard-" + std::to_string(shard);
    if (dir_fd_.valid() && ::faccessat(dir_fd_.get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) != 0) continue;
    LockedFile f(dir_fd_.get(), name, LOCK_SH, kShortWait);
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
  st.untrusted = sum[8];
  Usage u = usage();
  st.entries = static_cast<uint64_t>(u.entries);
  st.stored_bytes = static_cast<uint64_t>(u.bytes);
  return st;
}

void StatsFiles::zero() noexcept {
  for (int shard = 0; shard < kShards; ++shard) {
    LockedFile f(dir_fd_.get(), "shard-" + std::to_string(shard), LOCK_EX, kShortWait);
    if (f.ok()) f.store(Slots{});
  }
}

}  // namespace graphcache::store
