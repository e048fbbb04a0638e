// Command-line options that locate and size the local store, shared by the store commands and `exec`:
// --cache-dir, --config, --max-size, --max-entries, --compress (flags > env > config file > defaults,
// see include/graphcache/store_config.hpp).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "graphcache/local_store.hpp"
#include "graphcache/single_flight.hpp"

namespace graphcache::cli {

struct StoreOptionArgs {
  std::string config_file, cache_dir, max_size, max_entries, compress;  // empty: not given
  std::string remote;             // redis://... (env GRAPHCACHE_REMOTE); empty: local only
  bool remote_read_only = false;  // env GRAPHCACHE_REMOTE_READ_ONLY=on (any parse_bool spelling)
  std::string signing_key, trusted_keys, require_signature;  // signed entries (graphcache/signing.hpp)
};

// The process-wide values: the root app and every store subcommand bind the same object, so
// `graphcache --cache-dir D ls` and `graphcache ls --cache-dir D` both work.
StoreOptionArgs& store_option_args();
void add_store_options(CLI::App& command);
StoreConfig resolve_cli_store_config();
std::unique_ptr<LocalStore> open_local_store();
// The store that put/get/ls/rm/stats use: the local store, layered over the Redis tier when --remote or
// GRAPHCACHE_REMOTE names one (include/graphcache/layered_store.hpp). Throws Error on a malformed URL.
std::unique_ptr<Store> open_store();
bool remote_configured();
// --remote-read-only or GRAPHCACHE_REMOTE_READ_ONLY (parse_bool syntax; a bad value is an Error).
bool remote_is_read_only();
// One build per key across processes for `store`: a Redis lock when a writable remote is configured
// (hosts sharing it build once), else - and whenever Redis is unreachable - a file lock in
// <cache dir>/locks (processes on this host build once). Throws Error(kIo) if neither can be set up.
std::unique_ptr<SingleFlight> open_single_flight(Store& store, SingleFlightOptions options = {});

// Writes `size` bytes to `path` through a temp file in the same directory + rename, so a reader never
// sees a partial engine. "-" writes to stdout. Throws Error(kIo).
void write_output_file(const std::string& path, const uint8_t* data, uint64_t size);

}  // namespace graphcache::cli
