// The one place that turns a StoreConfig into stores (ccache's `Storage(const Config&)` is the model):
// the local disk tier always; with `config.remote`, the remote tier its URL's scheme names, layered
// behind the local one (layered_store.hpp), both under config.trust (signing.hpp); with
// `config.event_log`, every lookup and put recorded (event_log.hpp); and single-flight build locks from
// the same config. The CLI and the Python bindings call these and assemble no tiers of their own.
//
// A new remote tier is one Store implementation plus one row of the scheme table in
// src/store/open_store.cpp (its scheme, how to open the tier, how to open its lock service).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "graphcache/event_log.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/single_flight.hpp"
#include "graphcache/store.hpp"
#include "graphcache/store_config.hpp"

namespace graphcache {

struct OpenedStore {
  std::shared_ptr<LocalStore> local;  // maintenance (gc, verify, clear, zeroing stats) is local
  std::shared_ptr<Store> remote;      // null without a remote tier
  std::shared_ptr<Store> tiers;       // lookups and puts: `local`, or LayeredStore(local, remote)
  bool remote_read_only = false;
  // config.event_log's writer (null without one); `tiers` records into it, single-flight's lock waits too.
  std::shared_ptr<EventLog> events;
};

// Throws Error(kInvalidArgument) for a remote URL that is malformed or has no registered scheme (the
// message never repeats the URL: it may hold a password), Error(kIo) when the cache directory is unusable.
// An unreachable remote is not an error here: it costs one warning at first use (layered_store.hpp).
OpenedStore open_store(const StoreConfig& config, WarningSink warn = {});

// Single-flight over `store` with the locks `config` calls for: the remote tier's lock service when a
// writable remote is configured (hosts sharing it build once), else - and while it is unreachable - file
// locks in <cache_dir>/locks. A read-only consumer takes no locks in the shared instance.
std::unique_ptr<SingleFlight> make_single_flight(Store& store, const StoreConfig& config,
                                                 WarningSink warn = {}, SingleFlightOptions options = {});

// The URL schemes that have a remote tier, e.g. {"redis"}.
std::vector<std::string> remote_schemes();

}  // namespace graphcache
