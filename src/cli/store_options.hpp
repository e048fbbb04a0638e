// Command-line options that locate and size the store, shared by the store commands and `exec`:
// --cache-dir, --config, --max-size, --max-entries, --compress, --remote, --remote-read-only, the trust
// flags and --event-log (flags > env > config file > defaults, see include/graphcache/store_config.hpp). They
// only fill StoreConfigOverrides: the stores are built by open_store (include/graphcache/open_store.hpp).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "graphcache/open_store.hpp"

namespace graphcache::cli {

struct StoreOptionArgs {
  std::string config_file, cache_dir, max_size, max_entries, compress;  // empty: not given
  std::string remote;                                                   // redis://...; empty: not given
  bool remote_read_only = false;                                        // false: not given
  std::string signing_key, trusted_keys, require_signature;  // signed entries (graphcache/signing.hpp)
  std::string event_log;                                     // JSON-lines event log (event_log.hpp)
};

// The process-wide values: the root app and every store subcommand bind the same object, so
// `graphcache --cache-dir D ls` and `graphcache ls --cache-dir D` both work.
StoreOptionArgs& store_option_args();
void add_store_options(CLI::App& command);
StoreConfig resolve_cli_store_config();
// The stores' warning sink (messages carry their own "graphcache: " prefix): one line on stderr.
void print_store_warning(const std::string& message);
// The stores the resolved configuration describes (include/graphcache/open_store.hpp): `.tiers` for
// put/get/ls/rm/stats, `.local` for gc/verify/clear. Throws Error on a malformed remote URL.
OpenedStore open_cli_store();
// One build per key across processes for `exec`, with the locks the configuration calls for
// (make_single_flight in open_store.hpp). Throws Error(kIo) if no lock can be set up.
std::unique_ptr<SingleFlight> open_single_flight(Store& store, SingleFlightOptions options = {});

// Writes `size` bytes to `path` through a temp file in the same directory + rename, so a reader never
// sees a partial engine. "-" writes to stdout. Throws Error(kIo).
void write_output_file(const std::string& path, const uint8_t* data, uint64_t size);

}  // namespace graphcache::cli
