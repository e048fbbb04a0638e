#include "graphcache/local_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <new>
#include <thread>

#include "common/atomic_file.hpp"
#include "common/unique_fd.hpp"
#include "entry_format.hpp"
#include "explain_index.hpp"
#include "graphcache/error.hpp"
#include "graphcache/event_log.hpp"
#include "graphcache/signing.hpp"
#include "local_layout.hpp"
#include "stats_file.hpp"

namespace graphcache {
namespace {

using store::CounterDelta;

// Last use is refreshed at most this often per entry, so hot entries do not write inodes on every hit.
constexpr int64_t kAtimeGranularitySeconds = 60;

int64_t now_unix() {
  return static_cast<int64_t>(std::time(nullptr));
}

std::string errno_text(int err) {
  return std::strerror(err);
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    throw Error(ErrorKind::kIo, "cannot create directory '" + path + "': " + errno_text(errno));
  }
}

void make_dirs(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    make_dir(path.substr(0, pos));
  }
  make_dir(path);
}

// Reads all of `fd` into a private buffer. The entry is verified in this copy, so another process that
// truncates the file (which would SIGBUS a reader of a shared mapping) or rewrites it in place after the
// check cannot change or crash what we hand out: a short read is a corrupt entry. Costs one copy out of
// the page cache (bench/store/README.md has the figure).
std::shared_ptr<store::ReservedBlob> read_private_copy(int fd, uint64_t size) {
  auto copy = std::make_shared<store::ReservedBlob>(size, /*populate=*/true);
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::pread(fd, copy->mutable_data() + done,
                static_cast<size_t>(std::min<uint64_t>(size - done, 1 << 30)), static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorKind::kIo, "read failed: " + errno_text(errno));
    if (n == 0) throw Error(ErrorKind::kCorrupt, "truncated while being read");
    done += static_cast<uint64_t>(n);
  }
  return copy;
}

}  // namespace

struct LocalStore::Impl {
  StoreConfig config;
  WarningSink warnings;
  store::StatsFiles stats;
  std::shared_ptr<const EntryTrust> trust;  // signs on put, enforces require_signature on read
  // config.event_log: evictions and corrupt entries happen in here, out of with_event_log's sight.
  std::shared_ptr<EventLog> events;

  Impl(StoreConfig c, WarningSink w)
      : config(std::move(c)),
        warnings(std::move(w)),
        stats((make_dirs(config.cache_dir), config.cache_dir + "/stats")),
        trust(make_entry_trust(config.trust)),
        events(config.event_log.empty() ? nullptr : std::make_shared<EventLog>(config.event_log)) {
    if (!warnings) {
      warnings = [](const std::string& message) {
        std::fprintf(stderr, "graphcache: warning: %s\n", message.c_str());
      };
    }
  }

  void warn(const std::string& message) noexcept {
    try {
      warnings(message);
    } catch (...) {
      // A throwing sink must not turn a miss into a failure.
    }
  }

  // Removes `path` if it is still the file we found broken (a concurrent put may have renamed a good
  // entry over it meanwhile; that one is kept).
  void discard_corrupt(const std::string& path, const Key& key, const struct stat& seen,
                       const std::string& why) {
    warn("corrupt cache entry " + path + ": " + why + "; removed");
    if (events) events->record("corrupt", &key, "local", static_cast<uint64_t>(seen.st_size), 0, why);
    struct stat now;
    if (::lstat(path.c_str(), &now) == 0 && now.st_ino == seen.st_ino && now.st_dev == seen.st_dev &&
        ::unlink(path.c_str()) == 0) {
      stats.add_usage(-1, -static_cast<int64_t>(seen.st_size));
    }
  }

  // Opens, maps and fully checks the entry at `path`. nullopt: missing (ENOENT) or corrupt (already
  // reported, counted and removed). Never throws.
  // `mark_used` refreshes the entry's last use (get does; verify must not reorder the LRU).
  std::optional<Entry> load(const std::string& path, const Key& key, CounterDelta& delta,
                            bool mark_used) noexcept {
    if (!store::fanout_dirs_are_real(config.cache_dir, key)) {
      warn("cache entry " + path + " is reached through a symlinked directory; not followed");
      ++delta.errors;
      return std::nullopt;
    }
    // O_NOFOLLOW: a symlink planted at an entry path is never followed; O_NONBLOCK: a FIFO cannot hang us.
    constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    UniqueFd fd{::open(path.c_str(), kFlags | (mark_used ? 0 : O_NOATIME))};
    if (!fd.valid() && errno == EPERM) fd.reset(::open(path.c_str(), kFlags));  // not the owner
    if (fd.get() < 0) {
      if (errno == ELOOP) {
        discard_not_regular(path, key, "is a symlink (not followed)", delta);
      } else if (errno != ENOENT) {
        warn("cannot open cache entry " + path + ": " + errno_text(errno));
        ++delta.errors;
      }
      return std::nullopt;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
      warn("cannot stat cache entry " + path + ": " + errno_text(errno));
      ++delta.errors;
      return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
      discard_not_regular(path, key, "is not a regular file", delta);
      return std::nullopt;
    }
    try {
      const auto size = static_cast<uint64_t>(st.st_size);
      if (size < store::kEntryHeaderSize) {
        throw Error(ErrorKind::kCorrupt, "truncated: " + std::to_string(size) + " bytes");
      }
      std::shared_ptr<store::ReservedBlob> mapping;
      try {
        mapping = read_private_copy(fd.get(), size);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kCorrupt) throw;
        warn("cannot read cache entry " + path + ": " + e.what());
        ++delta.errors;
        return std::nullopt;
      }
      store::DecodedEntry decoded = store::decode_entry(mapping->data(), size, key);
      Entry entry{std::move(decoded.metadata), store::engine_blob(decoded, mapping)};
      if (std::string why; trust && !trust->admits(key, entry, why)) {
        warn("cache entry " + path + " refused: " + why + "; treated as a miss");
        ++delta.untrusted;
        return std::nullopt;
      }
      if (mark_used && now_unix() - st.st_atime >= kAtimeGranularitySeconds) {
        const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
        ::futimens(fd.get(), times);  // best effort: a read-only cache still serves hits
      }
      return entry;
    } catch (const Error& e) {
      ++delta.corrupt;
      discard_corrupt(path, key, st, e.what());
    } catch (const std::bad_alloc&) {
      warn("out of memory reading cache entry " + path);
      ++delta.errors;
    } catch (const std::exception& e) {
      warn("cannot read cache entry " + path + ": " + e.what());
      ++delta.errors;
    }
    return std::nullopt;
  }

  // A symlink, FIFO, ... at an entry path is corrupt: reported, counted and unlinked (the link itself,
  // never its target; directories stay, unlink refuses them). It was never counted in the usage.
  void discard_not_regular(const std::string& path, const Key& key, const std::string& why,
                           CounterDelta& delta) noexcept {
    warn("corrupt cache entry " + path + ": " + why + "; removed");
    if (events) events->record("corrupt", &key, "local", 0, 0, why);
    ++delta.corrupt;
    ::unlink(path.c_str());
  }

  bool over_caps(uint64_t entries, uint64_t bytes, uint64_t max_size, uint64_t max_entries) const {
    return (max_size != 0 && bytes > max_size) || (max_entries != 0 && entries > max_entries);
  }

  GcReport collect(uint64_t max_size, uint64_t max_entries, bool wait_for_lock) {
    GcReport report;
    // gc.lock is opened relative to the cache directory without following a symlink planted there, and
    // waited for at most gc_lock_wait_ms: whoever can open it can hold it.
    const UniqueFd root{::open(config.cache_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    const UniqueFd lock =
        root.valid() ? open_at_nofollow(root.get(), "gc.lock", O_RDWR | O_CREAT | O_NONBLOCK) : UniqueFd();
    struct stat lock_stat {};
    if (!lock.valid() || ::fstat(lock.get(), &lock_stat) != 0 || !S_ISREG(lock_stat.st_mode)) {
      throw Error(ErrorKind::kIo, "cannot open " + config.cache_dir + "/gc.lock: " +
                                      (lock.valid() ? std::string("not a regular file") : errno_text(errno)));
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(config.gc_lock_wait_ms);
    while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK)
        throw Error(ErrorKind::kIo, "cannot lock " + config.cache_dir + "/gc.lock: " + errno_text(errno));
      if (!wait_for_lock) return report;  // someone else is collecting
      if (std::chrono::steady_clock::now() >= deadline) {
        throw Error(ErrorKind::kIo, config.cache_dir + "/gc.lock is held by another process for more than " +
                                        std::to_string(config.gc_lock_wait_ms) + " ms; try again later");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    store::ScanResult scan = store::scan_store(config.cache_dir);
    report.stale_temps_removed = remove_stale_temps(scan);
    report.entries_before = scan.entries.size();
    report.bytes_before = scan.entry_bytes;
    uint64_t entries = scan.entries.size(), bytes = scan.entry_bytes;
    if (over_caps(entries, bytes, max_size, max_entries)) {
      // 0 means "no cap", so a nonzero cap never shrinks to 0 here.
      auto target = [&](uint64_t cap) {
        return cap == 0 ? 0
                        : std::max<uint64_t>(
                              1, static_cast<uint64_t>(static_cast<double>(cap) * config.gc_target));
      };
      const uint64_t target_size = target(max_size), target_entries = target(max_entries);
      std::sort(scan.entries.begin(), scan.entries.end(), [](const auto& x, const auto& y) {
        return std::tie(x.atime, x.mtime, x.path) < std::tie(y.atime, y.mtime, y.path);
      });
      for (const store::ScannedFile& f : scan.entries) {
        if (!over_caps(entries, bytes, target_size, target_entries)) break;
        if (::unlink(f.path.c_str()) != 0) continue;  // already gone (remove, another gc)
        if (events) events->record("evict", &f.key, "local", f.size);
        --entries;
        bytes -= f.size;
        ++report.evicted;
      }
    }
    report.entries_after = entries;
    report.bytes_after = bytes;
    stats.set_usage({static_cast<int64_t>(entries), static_cast<int64_t>(bytes)});
    if (report.evicted) stats.add(CounterDelta{.evictions = report.evicted});
    return report;
  }

  uint64_t remove_stale_temps(const store::ScanResult& scan) {
    uint64_t removed = 0;
    const int64_t now = now_unix();
    const auto max_age = static_cast<int64_t>(config.stale_temp_minutes * 60);
    for (const store::ScannedFile& t : scan.temps) {
      const std::string name = t.path.substr(t.path.rfind('/') + 1);
      if (store::is_stale_temp(name, t.mtime, now, max_age) && ::unlink(t.path.c_str()) == 0) ++removed;
    }
    return removed;
  }

  // Runs after a put has succeeded, so a failure here is a warning, not a failed put.
  void maybe_collect() noexcept {
    if (config.max_size == 0 && config.max_entries == 0) return;
    store::Usage u = stats.usage();
    if (!over_caps(static_cast<uint64_t>(u.entries), static_cast<uint64_t>(u.bytes), config.max_size,
                   config.max_entries)) {
      return;
    }
    try {
      collect(config.max_size, config.max_entries, /*wait_for_lock=*/false);
    } catch (const std::exception& e) {
      warn(std::string("automatic gc failed: ") + e.what());
    }
  }
};

LocalStore::LocalStore(StoreConfig config, WarningSink warnings) {
  if (config.cache_dir.empty()) throw Error(ErrorKind::kInvalidArgument, "cache directory is empty");
  if (config.gc_target <= 0 || config.gc_target > 1) {
    throw Error(ErrorKind::kInvalidArgument, "gc_target must be in (0, 1]");
  }
  // A cache directory we may only read still serves hits (an inference host with a shared read-only
  // cache): put and gc report the missing permission when they need it.
  impl_ = std::make_unique<Impl>(std::move(config), std::move(warnings));
}

LocalStore::~LocalStore() = default;

const StoreConfig& LocalStore::config() const {
  return impl_->config;
}

std::string LocalStore::entry_path(const Key& key) const {
  return store::entry_file(impl_->config.cache_dir, key);
}

std::optional<Entry> LocalStore::get(const Key& key) {
  CounterDelta delta;
  std::optional<Entry> entry = impl_->load(entry_path(key), key, delta, /*mark_used=*/true);
  if (entry) {
    ++delta.hits;
    delta.bytes_read = entry->engine->size();
  } else {
    ++delta.misses;
  }
  impl_->stats.add(delta);
  return entry;
}

std::optional<Entry> LocalStore::peek(const Key& key) {
  CounterDelta delta;  // only corrupt / errors: a peek is part of a lookup counted elsewhere
  std::optional<Entry> entry = impl_->load(entry_path(key), key, delta, /*mark_used=*/false);
  impl_->stats.add(delta);
  return entry;
}

void LocalStore::put(const Key& key, const EngineSource& engine, const EntryMetadata& metadata) {
  const std::string dir = store::fanout_dir(impl_->config.cache_dir, key);
  const std::string final_path = dir + "/" + key.hex();
  const std::string temp_path = dir + "/" + store::temp_file_name();
  try {
    make_dirs(dir);
    if (!store::fanout_dirs_are_real(impl_->config.cache_dir, key))
      throw Error(ErrorKind::kIo, "refusing to write through a symlinked cache directory: '" + dir + "'");
    AtomicFile file(final_path, temp_path);  // removes the temp file on any error below
    EntryMetadata stored_metadata = metadata;
    if (impl_->trust) impl_->trust->sign(key, engine, stored_metadata);
    uint64_t written = store::write_entry(file.fd(), key, engine, stored_metadata,
                                          {impl_->config.compress, impl_->config.compress_level});
    // An entry over the size cap would be evicted at once, together with everything else: refuse it.
    if (impl_->config.max_size != 0 && written > impl_->config.max_size) {
      throw Error(ErrorKind::kInvalidArgument, "the entry is " + format_size(written) +
                                                   ", larger than the cache's max size " +
                                                   format_size(impl_->config.max_size) + "; not stored");
    }
    file.close(impl_->config.fsync);

    struct stat old;
    const bool replacing = ::lstat(final_path.c_str(), &old) == 0 && S_ISREG(old.st_mode);
    if (!replacing && ::lstat(final_path.c_str(), &old) == 0 && S_ISDIR(old.st_mode)) {
      // A directory planted at the entry path would make every put of this key fail (rename cannot
      // replace a non-empty directory): remove it if empty, else rename it out of the way (the name is
      // not an entry name, so it is never served; gc and verify ignore it).
      const std::string aside = dir + "/.planted-" + store::temp_file_name();
      if (::rmdir(final_path.c_str()) != 0 && ::rename(final_path.c_str(), aside.c_str()) == 0)
        impl_->warn("a directory was planted at cache entry " + final_path + "; moved to " + aside);
    }
    file.commit(impl_->config.fsync);
    store::local_index_note_put(impl_->config.cache_dir, key, metadata);  // explain index (a hint)
    impl_->stats.add(CounterDelta{.puts = 1, .bytes_written = written});
    impl_->stats.add_usage(replacing ? 0 : 1, static_cast<int64_t>(written) -
                                                  (replacing ? static_cast<int64_t>(old.st_size) : 0));
  } catch (const Error& e) {
    impl_->stats.add(CounterDelta{.errors = 1});
    if (e.kind() == ErrorKind::kIo || e.kind() == ErrorKind::kInvalidArgument) throw;
    throw Error(ErrorKind::kIo, std::string("cannot store entry: ") + e.what());
  } catch (const std::exception& e) {
    impl_->stats.add(CounterDelta{.errors = 1});
    throw Error(ErrorKind::kIo, std::string("cannot store entry: ") + e.what());
  }
  impl_->maybe_collect();
}

void LocalStore::adopt_entry_file(const Key& key, const std::string& path) {
  const std::string dir = store::fanout_dir(impl_->config.cache_dir, key);
  const std::string final_path = dir + "/" + key.hex();
  make_dirs(dir);
  if (!store::fanout_dirs_are_real(impl_->config.cache_dir, key))
    throw Error(ErrorKind::kIo, "refusing to write through a symlinked cache directory: '" + dir + "'");
  struct stat st, old;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    throw Error(ErrorKind::kIo, "cannot adopt '" + path + "': not a regular file");
  const bool replacing = ::lstat(final_path.c_str(), &old) == 0 && S_ISREG(old.st_mode);
  if (::rename(path.c_str(), final_path.c_str()) != 0)
    throw Error(ErrorKind::kIo, "cannot rename into '" + final_path + "': " + errno_text(errno));
  if (impl_->config.fsync) fsync_folder(dir);
  if (const auto metadata =
          store::local_entry_metadata(impl_->config.cache_dir, key))  // explain index, as put
    store::local_index_note_put(impl_->config.cache_dir, key, *metadata);
  impl_->stats.add(CounterDelta{.puts = 1, .bytes_written = static_cast<uint64_t>(st.st_size)});
  impl_->stats.add_usage(replacing ? 0 : 1, st.st_size - (replacing ? old.st_size : 0));
}

bool LocalStore::remove(const Key& key) {
  const std::string path = entry_path(key);
  if (!store::fanout_dirs_are_real(impl_->config.cache_dir, key)) {
    throw Error(ErrorKind::kIo, "refusing to remove through a symlinked cache directory: '" + path + "'");
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return false;
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw Error(ErrorKind::kIo, "cannot remove '" + path + "': " + errno_text(errno));
  }
  if (S_ISREG(st.st_mode)) impl_->stats.add_usage(-1, -static_cast<int64_t>(st.st_size));
  store::local_index_note_remove(impl_->config.cache_dir, key);
  return true;
}

std::vector<EntryInfo> LocalStore::list() {
  std::vector<EntryInfo> out;
  for (const store::ScannedFile& f : store::scan_store(impl_->config.cache_dir).entries) {
    EntryInfo info{f.key, f.size, 0, 0, f.atime};
    // Listing is not a use: the atime is the LRU order, and reading the header would advance it (relatime
    // updates an atime older than the mtime). O_NOATIME needs ownership; otherwise the atime is restored.
    constexpr int kFlags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    UniqueFd fd{::open(f.path.c_str(), kFlags | O_NOATIME)};
    const bool restore_atime = fd.get() < 0 && errno == EPERM;
    struct stat before {};
    if (restore_atime) {
      fd = UniqueFd{::open(f.path.c_str(), kFlags)};
      if (fd.get() >= 0 && ::fstat(fd.get(), &before) != 0) before.st_atim = {f.atime, 0};
    }
    uint8_t header[store::kEntryHeaderSize];
    const bool read_header =
        fd.get() >= 0 && ::pread(fd.get(), header, sizeof(header), 0) == static_cast<ssize_t>(sizeof(header));
    if (restore_atime && fd.get() >= 0) {
      const struct timespec times[2] = {before.st_atim, {0, UTIME_OMIT}};
      ::futimens(fd.get(), times);  // best effort, like the hit path's update
    }
    if (read_header) {
      try {
        store::EntryHeader h = store::parse_header(header, sizeof(header));
        info.engine_bytes = h.engine_size;
        info.created_unix = h.created_unix;
      } catch (const Error&) {
        // Listed as found; `verify` or the next get reports and removes it.
      }
    }
    out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](const EntryInfo& a, const EntryInfo& b) { return a.key < b.key; });
  return out;
}

StoreStats LocalStore::stats() {
  return impl_->stats.read();
}

void LocalStore::zero_stats() {
  impl_->stats.zero();
}

GcReport LocalStore::gc(uint64_t max_size, uint64_t max_entries) {
  return impl_->collect(max_size ? max_size : impl_->config.max_size,
                        max_entries ? max_entries : impl_->config.max_entries, /*wait_for_lock=*/true);
}

VerifyReport LocalStore::verify() {
  VerifyReport report;
  store::ScanResult scan = store::scan_store(impl_->config.cache_dir);
  report.stale_temps_removed = impl_->remove_stale_temps(scan);
  CounterDelta delta;
  const EntryTrust no_keys{TrustConfig{}};
  const EntryTrust& trust = impl_->trust ? *impl_->trust : no_keys;
  for (const store::ScannedFile& f : scan.entries) {
    ++report.checked;
    const uint64_t corrupt_before = delta.corrupt, untrusted_before = delta.untrusted;
    if (std::optional<Entry> entry = impl_->load(f.path, f.key, delta, /*mark_used=*/false)) {
      ++report.ok;
      ++report.entries;
      report.stored_bytes += f.size;
      switch (trust.check(f.key, entry->metadata, entry->engine->data(), entry->engine->size()).status) {
        case SignatureStatus::kTrusted:
          ++report.signed_trusted;
          break;
        case SignatureStatus::kUnknownKey:
          ++report.signed_unknown_key;
          break;
        case SignatureStatus::kInvalid:
          ++report.bad_signature;
          break;
        case SignatureStatus::kUnsigned:
          ++report.unsigned_entries;
          break;
      }
    } else if (delta.corrupt != corrupt_before) {
      ++report.corrupt;
    } else if (delta.untrusted != untrusted_before) {
      ++report.untrusted;
      ++report.entries;
      report.stored_bytes += f.size;
    }
  }
  impl_->stats.add(
      CounterDelta{.corrupt = delta.corrupt, .errors = delta.errors, .untrusted = delta.untrusted});
  impl_->stats.set_usage({static_cast<int64_t>(report.entries), static_cast<int64_t>(report.stored_bytes)});
  return report;
}

uint64_t LocalStore::clear() {
  store::ScanResult scan = store::scan_store(impl_->config.cache_dir);
  uint64_t removed = 0;
  for (const store::ScannedFile& f : scan.entries) {
    if (::unlink(f.path.c_str()) == 0) ++removed;
  }
  impl_->remove_stale_temps(scan);
  impl_->stats.set_usage({});
  store::local_index_note_clear(impl_->config.cache_dir);
  return removed;
}

}  // namespace graphcache
