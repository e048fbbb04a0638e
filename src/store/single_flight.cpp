// SingleFlight::get_or_build: store hit, else take the key's build lock and build, else wait for the
// holder (polling the lock, not the store, so waiting does not inflate miss counters) and read its result.
// Only the first read is a lookup (one hit or one miss); later reads are Store::peek.
#include "graphcache/single_flight.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <thread>

#include "common/unique_fd.hpp"
#include "entry_format.hpp"
#include "graphcache/error.hpp"

namespace graphcache {
namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw Error(ErrorKind::kIo, "cannot open built engine file " + path);
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorKind::kIo, "cannot read built engine file " + path);
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  return bytes;
}

}  // namespace

struct SingleFlight::Impl {
  Impl(Store& s, std::unique_ptr<LockService> p, std::unique_ptr<LockService> f, SingleFlightOptions o,
       WarningSink w)
      : store(s), primary(std::move(p)), fallback(std::move(f)), options(o), warn(std::move(w)) {}

  Store& store;
  std::unique_ptr<LockService> primary, fallback;
  SingleFlightOptions options;
  WarningSink warn;
  std::mutex mutex;  // guards the primary's back-off state (threads share one SingleFlight)
  std::optional<std::chrono::steady_clock::time_point> primary_down_until;
  bool primary_warned = false;

  bool primary_usable() {
    std::lock_guard lock(mutex);
    return primary && (!primary_down_until || std::chrono::steady_clock::now() >= *primary_down_until);
  }

  void warning(const std::string& message) const {
    if (warn) warn("graphcache: " + message);
  }

  // Runs `op` against the primary lock service, or the fallback while the primary is unreachable (then
  // the primary is left alone for primary_retry_after, so a stalled server costs one timeout, not one per
  // poll).
  template <typename Op>
  auto with_locks(Op&& op) {
    if (primary_usable() || !fallback) {
      try {
        return op(*primary);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kIo || !fallback) throw;
        std::lock_guard lock(mutex);
        primary_down_until = std::chrono::steady_clock::now() + options.primary_retry_after;
        if (!primary_warned) {
          primary_warned = true;
          warning(primary->name() + " build lock unavailable (" + e.what() + "); using " + fallback->name() +
                  " locks");
        }
      }
    }
    return op(*fallback);
  }

  GetOrBuildResult build_and_put(const Key& key, const BuildFunction& build) {
    BuiltEngine built = build();
    const EngineSource source = built.file_path.empty()
                                    ? EngineSource::from_memory(built.bytes.data(), built.bytes.size())
                                    : EngineSource::from_file(built.file_path);
    try {
      store.put(key, source, built.metadata);
    } catch (const Error& e) {
      warning("could not store the engine built for " + key.hex() + ": " + e.what());
    }
    if (!built.file_path.empty()) {
      if (auto stored = store.peek(key)) return {std::move(*stored), GetOrBuildResult::Source::kBuilt};
      built.bytes = read_file(built.file_path);
    }
    return {Entry{std::move(built.metadata), std::make_shared<store::VectorBlob>(std::move(built.bytes))},
            GetOrBuildResult::Source::kBuilt};
  }

  void report_wait(const Key& key, std::chrono::steady_clock::duration waited) {
    std::string who, service;
    try {
      with_locks([&](LockService& s) {
        who = s.holder(key);
        service = s.name();
        return true;
      });
    } catch (const Error&) {
    }
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(waited).count();
    options.on_wait("waiting for another build of " + key.hex() + " (" + service + " lock held by " +
                    (who.empty() ? std::string("another process") : who) + ") for " +
                    std::to_string(seconds) + " s");
  }

  GetOrBuildResult get_or_build(const Key& key, const BuildFunction& build) {
    if (auto hit = store.get(key)) return {std::move(*hit), GetOrBuildResult::Source::kCache};
    const auto deadline = std::chrono::steady_clock::now() + options.wait_timeout;
    bool waited = false;
    for (;;) {
      std::unique_ptr<BuildLock> lock = with_locks([&](LockService& s) { return s.try_acquire(key); });
      if (lock) {
        // The previous holder may have finished between our miss and our lock.
        if (auto hit = store.peek(key)) {
          return {std::move(*hit),
                  waited ? GetOrBuildResult::Source::kWaited : GetOrBuildResult::Source::kCache};
        }
        return build_and_put(key, build);
      }
      const auto wait_start = std::chrono::steady_clock::now();
      auto next_report = wait_start;
      waited = true;
      // Wait while someone holds the lock; then their result should be in the store.
      while (with_locks([&](LockService& s) { return s.is_held(key); })) {
        if (options.on_wait && std::chrono::steady_clock::now() >= next_report) {
          report_wait(key, std::chrono::steady_clock::now() - wait_start);
          next_report += options.wait_report_interval;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
          warning("waited " + std::to_string(options.wait_timeout.count()) + " ms for another build of " +
                  key.hex() + "; building it here");
          return build_and_put(key, build);
        }
        std::this_thread::sleep_for(options.poll_interval);
      }
      if (auto hit = store.peek(key)) return {std::move(*hit), GetOrBuildResult::Source::kWaited};
      // The holder released without a result (its build failed or it crashed): try to take over.
    }
  }
};

SingleFlight::SingleFlight(Store& store, std::unique_ptr<LockService> primary,
                           std::unique_ptr<LockService> fallback, SingleFlightOptions options,
                           WarningSink warn)
    : impl_(
          std::make_unique<Impl>(store, std::move(primary), std::move(fallback), options, std::move(warn))) {
  if (!impl_->primary && !impl_->fallback) {
    throw Error(ErrorKind::kInvalidArgument, "single-flight needs at least one lock service");
  }
  if (options.poll_interval.count() <= 0) {
    throw Error(ErrorKind::kInvalidArgument, "single-flight poll interval must be positive");
  }
}

SingleFlight::~SingleFlight() = default;

GetOrBuildResult SingleFlight::get_or_build(const Key& key, const BuildFunction& build) {
  return impl_->get_or_build(key, build);
}

std::unique_ptr<BuildLock> SingleFlight::acquire(const Key& key, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (auto lock = impl_->with_locks([&](LockService& s) { return s.try_acquire(key); })) return lock;
    if (std::chrono::steady_clock::now() >= deadline) return nullptr;
    std::this_thread::sleep_for(impl_->options.poll_interval);
  }
}

}  // namespace graphcache
