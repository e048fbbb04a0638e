// RedisLockService: a lock with expiry per key (SET NX PX), kept alive by a refresh thread while the
// holder builds, released with a check-and-delete script so a holder whose lock expired and was taken
// over never deletes the new holder's lock.
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "graphcache/error.hpp"
#include "graphcache/single_flight.hpp"
#include "redis_connection.hpp"

namespace graphcache {
namespace {

constexpr std::string_view kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
constexpr std::string_view kRefreshScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "else return 0 end";

std::string random_token() {
  std::random_device device;
  std::string token;
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) token += kDigits[device() & 15];
  return token;
}

}  // namespace

struct RedisLockService::Impl {
  RedisConfig config;
  std::chrono::milliseconds ttl;
  WarningSink warn;
  std::mutex mutex;
  std::unique_ptr<redis::Connection> connection;

  std::string lock_key(const Key& key) const { return config.key_prefix + "lock:" + key.hex(); }

  // One command on the shared connection; reconnects after a failure.
  redis::Reply command(const redis::Args& args) {
    std::lock_guard lock(mutex);
    if (!connection || connection->broken()) {
      connection.reset();
      connection = std::make_unique<redis::Connection>(config);
    }
    try {
      return connection->command(args);
    } catch (const Error&) {
      if (connection->broken()) connection.reset();
      throw;
    }
  }
};

namespace {

class RedisBuildLock final : public BuildLock {
 public:
  RedisBuildLock(RedisLockService::Impl& service, std::string key, std::string token)
      : service_(service), key_(std::move(key)), token_(std::move(token)) {
    refresher_ = std::thread([this] { refresh_loop(); });
  }

  ~RedisBuildLock() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    refresher_.join();
    try {
      service_.command({"EVAL", kReleaseScript, "1", key_, token_});
    } catch (const Error& e) {
      // The lock expires on its own; waiters then take over after at most one TTL.
      if (service_.warn) service_.warn(std::string("graphcache: could not release build lock: ") + e.what());
    }
  }

  bool still_held() const override {
    std::lock_guard lock(mutex_);
    return held_;
  }

 private:
  void refresh_loop() {
    const auto period = std::max(service_.ttl / 3, std::chrono::milliseconds(1));
    const std::string ttl = std::to_string(service_.ttl.count());
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, period, [this] { return stop_; })) {
      lock.unlock();
      bool refreshed = true;
      std::string problem;
      try {
        refreshed =
            redis::as_integer(*service_.command({"EVAL", kRefreshScript, "1", key_, token_, ttl})) == 1;
        if (!refreshed) problem = "it expired and another builder may have taken it";
      } catch (const Error& e) {
        problem = e.what();  // transient: keep trying while the TTL has not run out
      }
      lock.lock();
      if (!refreshed && held_) {
        held_ = false;
        if (service_.warn) service_.warn("graphcache: build lock " + key_ + " lost: " + problem);
      } else if (!problem.empty() && !warned_) {
        warned_ = true;
        if (service_.warn) service_.warn("graphcache: cannot refresh build lock " + key_ + ": " + problem);
      }
    }
  }

  RedisLockService::Impl& service_;
  std::string key_, token_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false, held_ = true, warned_ = false;
  std::thread refresher_;
};

}  // namespace

RedisLockService::RedisLockService(RedisConfig config, std::chrono::milliseconds ttl, WarningSink warn)
    : impl_(std::make_unique<Impl>()) {
  if (ttl.count() <= 0) throw Error(ErrorKind::kInvalidArgument, "build lock TTL must be positive");
  impl_->config = std::move(config);
  impl_->ttl = ttl;
  impl_->warn = std::move(warn);
}

RedisLockService::~RedisLockService() = default;

std::unique_ptr<BuildLock> RedisLockService::try_acquire(const Key& key) {
  const std::string name = impl_->lock_key(key);
  std::string token = random_token();
  const std::string ttl = std::to_string(impl_->ttl.count());
  const redis::Reply reply = impl_->command({"SET", name, token, "NX", "PX", ttl});
  if (redis::is_nil(*reply)) return nullptr;
  return std::make_unique<RedisBuildLock>(*impl_, name, std::move(token));
}

bool RedisLockService::is_held(const Key& key) {
  return redis::as_integer(*impl_->command({"EXISTS", impl_->lock_key(key)})) == 1;
}

}  // namespace graphcache
