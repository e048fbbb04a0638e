// Configuration of the engine store: where the local tier lives, how big it may grow, and the remote
// tier behind it. open_store(config) (open_store.hpp) builds the stores it describes.
//
// Precedence (like ccache), highest first:
//   1. explicit overrides (CLI flags: --cache-dir, --max-size, --max-entries, --compress, --remote,
//      --remote-read-only, --event-log, the trust flags; the Python LocalStore's arguments)
//   2. environment: GRAPHCACHE_DIR, GRAPHCACHE_MAX_SIZE, GRAPHCACHE_MAX_ENTRIES, GRAPHCACHE_COMPRESS,
//      GRAPHCACHE_COMPRESS_LEVEL, GRAPHCACHE_FSYNC, GRAPHCACHE_REMOTE, GRAPHCACHE_REMOTE_READ_ONLY,
//      GRAPHCACHE_EVENT_LOG, GRAPHCACHE_SIGNING_KEY, GRAPHCACHE_TRUSTED_KEYS, GRAPHCACHE_REQUIRE_SIGNATURE
//   3. config file: the --config flag, else GRAPHCACHE_CONFIG, else
//   $XDG_CONFIG_HOME/graphcache/graphcache.conf
//      (~/.config/graphcache/graphcache.conf); lines `name = value`, `#` comments; names as the struct
//      fields below (cache_dir, max_size, max_entries, compress, compress_level, fsync, stale_temp_minutes,
//      remote, remote_read_only, event_log, signing_key, trusted_keys, require_signature)
//   4. defaults: $XDG_CACHE_HOME/graphcache or ~/.cache/graphcache, 10G, 100000 entries, no compression,
//      no remote.
//
// A new setting is one field below, one branch in apply() and (if it has one) one row in the environment
// table, both in src/store/store_config.cpp.
// Sizes accept K/M/G/T suffixes (powers of 1024; "1.5G" works); 0 means "no limit".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "graphcache/signing.hpp"

namespace graphcache {

struct StoreConfig {
  std::string cache_dir;
  uint64_t max_size = 10ull << 30;  // bytes on disk, 0 = unlimited
  uint64_t max_entries = 100000;    // 0 = unlimited
  bool compress = false;            // zstd-compress engine payloads on put
  int compress_level = 3;
  bool fsync = true;                 // fsync entries before rename (crash durability)
  uint64_t stale_temp_minutes = 60;  // temp files of live writers older than this are removed by gc
  uint64_t gc_lock_wait_ms = 30000;  // gc gives up (Error kIo) if gc.lock stays held this long
  // After an automatic or `gc` eviction the cache is brought down to this fraction of the caps, so that
  // the next few puts do not trigger another scan.
  double gc_target = 0.9;
  // Signed entries (signing.hpp): config lines signing_key, trusted_keys (PEM files or folders, separated
  // by ':'), require_signature; env GRAPHCACHE_SIGNING_KEY / GRAPHCACHE_TRUSTED_KEYS /
  // GRAPHCACHE_REQUIRE_SIGNATURE; flags --signing-key / --trusted-keys / --require-signature.
  TrustConfig trust;
  // The remote tier: a URL whose scheme picks the tier (open_store.hpp's table; redis://...). Empty: none.
  std::string remote;
  bool remote_read_only = false;  // read from the remote, never write, delete or take locks there
  // The JSON-lines event log (event_log.hpp) that open_store's tiers append to. Empty: none.
  std::string event_log;
};

// Values given explicitly (CLI flags); unset fields fall through to env / file / defaults.
struct StoreConfigOverrides {
  std::optional<std::string> config_file;
  std::optional<std::string> cache_dir;
  std::optional<std::string> max_size;  // with suffix
  std::optional<std::string> max_entries;
  std::optional<std::string> compress;  // any parse_bool spelling
  std::optional<std::string> signing_key, trusted_keys, require_signature;
  std::optional<std::string> remote;
  std::optional<std::string> remote_read_only;  // any parse_bool spelling
  std::optional<std::string> event_log;
};

// The one boolean syntax of every setting, flag value and environment variable: 1/true/yes/on and
// 0/false/no/off, case-insensitive. Throws Error(kInvalidArgument) "<source>: expected a boolean ...".
bool parse_bool(std::string_view text, const std::string& source);

// Parses "512", "64K", "10M", "1.5G", "2T" (case-insensitive, optional trailing "B"/"iB").
// Throws Error(kInvalidArgument) naming the text on anything else.
uint64_t parse_size(std::string_view text);
std::string format_size(uint64_t bytes);

std::string default_cache_dir();
std::string default_config_file();

// Resolves the configuration by the precedence above. `environment` defaults to the process
// environment (tests pass their own map). Throws Error(kInvalidArgument) for malformed values, naming
// where they came from; a missing config file is not an error unless it was named explicitly.
StoreConfig resolve_store_config(const StoreConfigOverrides& overrides = {},
                                 const std::map<std::string, std::string>* environment = nullptr);

}  // namespace graphcache
