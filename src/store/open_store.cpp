#include "graphcache/open_store.hpp"

#include <chrono>
#include <string_view>

#include "graphcache/error.hpp"
#include "graphcache/event_log.hpp"
#include "graphcache/layered_store.hpp"
#include "graphcache/redis_store.hpp"
#include "graphcache/signing.hpp"

namespace graphcache {
namespace {

// One row per remote backend, found by the URL's scheme.
struct RemoteTier {
  std::string_view scheme;
  // Opens the tier at config.remote, with config's trust settings (signing.hpp) applied to what it serves.
  std::shared_ptr<Store> (*open)(const StoreConfig& config, const WarningSink& warn);
  // Locks shared by every host using the tier; null when the backend has none (file locks only).
  std::unique_ptr<LockService> (*open_locks)(const std::string& url, const WarningSink& warn);
};

std::shared_ptr<Store> open_redis(const StoreConfig& config, const WarningSink& warn) {
  auto redis = std::make_shared<RedisStore>(RedisConfig::from_url(config.remote), warn);
  redis->set_trust(make_entry_trust(config.trust));
  return redis;
}

std::unique_ptr<LockService> open_redis_locks(const std::string& url, const WarningSink& warn) {
  // A crashed holder's lock expires after 60 s; a live one refreshes it every 20 s.
  return std::make_unique<RedisLockService>(RedisConfig::from_url(url), std::chrono::seconds(60), warn);
}

constexpr RemoteTier kRemoteTiers[] = {
    {"redis", open_redis, open_redis_locks},
};

const RemoteTier& remote_tier(const std::string& url) {
  const size_t colon = url.find("://");
  const std::string_view scheme = std::string_view(url).substr(0, colon);
  for (const RemoteTier& tier : kRemoteTiers) {
    if (colon != std::string::npos && scheme == tier.scheme) return tier;
  }
  std::string known;
  for (const RemoteTier& tier : kRemoteTiers)
    known += (known.empty() ? "" : ", ") + std::string(tier.scheme) + "://";
  // The scheme alone is safe to show; the rest of the URL may hold a password.
  throw Error(ErrorKind::kInvalidArgument,
              "invalid remote URL: " +
                  (colon == std::string::npos ? std::string("no scheme")
                                              : "unknown scheme '" + std::string(scheme) + "'") +
                  " (remote tiers: " + known + ")");
}

}  // namespace

OpenedStore open_store(const StoreConfig& config, WarningSink warn) {
  OpenedStore opened;
  opened.local = std::make_shared<LocalStore>(config, warn);
  std::shared_ptr<Store> tiers = opened.local;
  if (!config.remote.empty()) {
    opened.remote = remote_tier(config.remote).open(config, warn);
    opened.remote_read_only = config.remote_read_only;
    LayeredStoreOptions options;
    options.remote_read_only = config.remote_read_only;
    tiers = std::make_shared<LayeredStore>(opened.local, opened.remote, options, warn);
  }
  if (!config.event_log.empty()) {
    opened.events = std::make_shared<EventLog>(config.event_log);
    tiers = with_event_log(std::move(tiers), opened.events);
  }
  opened.tiers = std::move(tiers);
  return opened;
}

std::unique_ptr<SingleFlight> make_single_flight(Store& store, const StoreConfig& config, WarningSink warn,
                                                 SingleFlightOptions options) {
  std::unique_ptr<LockService> shared;
  if (!config.remote.empty() && !config.remote_read_only) {
    const RemoteTier& tier = remote_tier(config.remote);
    if (tier.open_locks) shared = tier.open_locks(config.remote, warn);
  }
  return std::make_unique<SingleFlight>(store, std::move(shared),
                                        std::make_unique<FileLockService>(config.cache_dir + "/locks"),
                                        options, std::move(warn));
}

std::vector<std::string> remote_schemes() {
  std::vector<std::string> out;
  for (const RemoteTier& tier : kRemoteTiers) out.emplace_back(tier.scheme);
  return out;
}

}  // namespace graphcache
