#include "graphcache/layered_store.hpp"

#include <map>
#include <mutex>

#include "graphcache/error.hpp"

namespace graphcache {

struct LayeredStore::Impl {
  LayeredStoreOptions options;
  WarningSink warn;
  mutable std::mutex mutex;
  std::optional<std::chrono::steady_clock::time_point> down_until;  // set while backing off
  bool outage = false;         // a failure was reported and no success since
  uint64_t remote_errors = 0;  // failures seen here (the remote cannot count its own unreachability)

  void warning(const std::string& message) const {
    if (warn) warn("graphcache: " + message);
  }

  bool remote_allowed() {
    std::lock_guard lock(mutex);
    if (down_until && std::chrono::steady_clock::now() < *down_until) return false;
    down_until.reset();
    return true;
  }

  void remote_failed(const std::string& remote_name, const Error& e) {
    std::lock_guard lock(mutex);
    ++remote_errors;
    if (e.kind() == ErrorKind::kIo) down_until = std::chrono::steady_clock::now() + options.retry_after;
    if (!outage) {
      outage = true;
      warning("remote store '" + remote_name + "' failed (" + e.what() +
              "); using the local store only, retrying in " + std::to_string(options.retry_after.count()) +
              " ms");
    }
  }

  void remote_succeeded(const std::string& remote_name) {
    std::lock_guard lock(mutex);
    if (outage) {
      outage = false;
      warning("remote store '" + remote_name + "' is reachable again");
    }
  }

  // Runs `op` on the remote unless it is backing off; a failure is reported and yields `fallback`.
  template <typename T, typename Op>
  T on_remote(Store& remote, T fallback, Op&& op) {
    if (!remote_allowed()) return fallback;
    try {
      T result = op(remote);
      remote_succeeded(remote.name());
      return result;
    } catch (const Error& e) {
      remote_failed(remote.name(), e);
      return fallback;
    }
  }
};

LayeredStore::LayeredStore(std::shared_ptr<Store> local, std::shared_ptr<Store> remote,
                           LayeredStoreOptions options, WarningSink warn)
    : local_(std::move(local)), remote_(std::move(remote)), impl_(std::make_unique<Impl>()) {
  if (!local_ || !remote_)
    throw Error(ErrorKind::kInvalidArgument, "a layered store needs a local and a remote store");
  impl_->options = options;
  impl_->warn = std::move(warn);
}

LayeredStore::~LayeredStore() = default;

std::optional<Entry> LayeredStore::get(const Key& key) {
  if (auto hit = local_->get(key)) return hit;
  return remote_get(key);
}

std::optional<Entry> LayeredStore::peek(const Key& key) {
  if (auto hit = local_->peek(key)) return hit;
  return remote_get(key);
}

std::optional<Entry> LayeredStore::remote_get(const Key& key) {
  std::optional<Entry> remote_hit =
      impl_->on_remote<std::optional<Entry>>(*remote_, std::nullopt, [&](Store& r) { return r.get(key); });
  if (!remote_hit) return std::nullopt;
  try {
    const EngineBlob& engine = *remote_hit->engine;
    local_->put(key, EngineSource::from_memory(engine.data(), engine.size()), remote_hit->metadata);
  } catch (const Error& e) {
    impl_->warning("could not copy remote entry " + key.hex() + " to the local store: " + e.what());
  }
  return remote_hit;
}

void LayeredStore::put(const Key& key, const EngineSource& engine, const EntryMetadata& metadata) {
  local_->put(key, engine, metadata);
  if (impl_->options.remote_read_only) return;
  impl_->on_remote<bool>(*remote_, false, [&](Store& r) {
    r.put(key, engine, metadata);
    return true;
  });
}

bool LayeredStore::remove(const Key& key) {
  bool removed = local_->remove(key);
  if (!impl_->options.remote_read_only) {
    removed = impl_->on_remote<bool>(*remote_, false, [&](Store& r) { return r.remove(key); }) || removed;
  }
  return removed;
}

std::vector<EntryInfo> LayeredStore::list() {
  std::vector<EntryInfo> entries = local_->list();
  std::map<Key, bool> seen;
  for (const EntryInfo& info : entries) seen[info.key] = true;
  for (const EntryInfo& info :
       impl_->on_remote<std::vector<EntryInfo>>(*remote_, {}, [](Store& r) { return r.list(); })) {
    if (!seen.count(info.key)) entries.push_back(info);
  }
  return entries;
}

StoreStats LayeredStore::stats() {
  return local_->stats();
}

std::map<std::string, StoreStats> LayeredStore::tier_stats() {
  std::map<std::string, StoreStats> tiers;
  tiers[local_->name()] = local_->stats();
  StoreStats remote_stats = impl_->on_remote<StoreStats>(*remote_, {}, [](Store& r) { return r.stats(); });
  {
    std::lock_guard lock(impl_->mutex);
    remote_stats.errors += impl_->remote_errors;
  }
  tiers[remote_->name()] = remote_stats;
  return tiers;
}

bool LayeredStore::remote_backing_off() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->down_until && std::chrono::steady_clock::now() < *impl_->down_until;
}

}  // namespace graphcache
