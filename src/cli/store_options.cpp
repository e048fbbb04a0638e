#include "store_options.hpp"

#include <unistd.h>

#include <cstdio>

#include "common/atomic_file.hpp"
#include "graphcache/error.hpp"

namespace graphcache::cli {
namespace {

std::optional<std::string> given(const std::string& value) {
  return value.empty() ? std::nullopt : std::optional<std::string>(value);
}

}  // namespace

StoreOptionArgs& store_option_args() {
  static StoreOptionArgs args;
  return args;
}

void add_store_options(CLI::App& command) {
  StoreOptionArgs& a = store_option_args();
  command.add_option("--cache-dir", a.cache_dir, "Cache directory (env GRAPHCACHE_DIR)");
  command.add_option("--config", a.config_file, "Config file (env GRAPHCACHE_CONFIG)");
  command.add_option("--max-size", a.max_size,
                     "Size cap, e.g. 20G; K/M/G/T suffixes (env GRAPHCACHE_MAX_SIZE)");
  command.add_option("--max-entries", a.max_entries, "Entry cap (env GRAPHCACHE_MAX_ENTRIES)");
  command.add_option("--compress", a.compress,
                     "zstd-compress new entries: on/off, true/false, yes/no, 1/0 (env GRAPHCACHE_COMPRESS)");
  command.add_option(
      "--remote", a.remote,
      "Shared Redis tier: redis://[:password@]host:port/db[?prefix=..&ttl=..] (env GRAPHCACHE_REMOTE)");
  command.add_flag(
      "--remote-read-only", a.remote_read_only,
      "Read from the remote tier but never write or delete there (env GRAPHCACHE_REMOTE_READ_ONLY=on)");
  command.add_option("--signing-key", a.signing_key,
                     "Ed25519 PEM private key that signs new entries (env GRAPHCACHE_SIGNING_KEY)");
  command.add_option(
      "--trusted-keys", a.trusted_keys,
      "Trusted Ed25519 PEM public keys or folders, ':'-separated (env GRAPHCACHE_TRUSTED_KEYS)");
  command.add_option("--require-signature", a.require_signature,
                     "Serve only entries signed by a trusted key: on/off (env GRAPHCACHE_REQUIRE_SIGNATURE)");
  command.add_option("--event-log", a.event_log,
                     "Append one JSON line per hit/miss/put/remove/evict/corrupt/lock wait to this file (env "
                     "GRAPHCACHE_EVENT_LOG)");
}

StoreConfig resolve_cli_store_config() {
  const StoreOptionArgs& a = store_option_args();
  StoreConfigOverrides o;
  o.config_file = given(a.config_file);
  o.cache_dir = given(a.cache_dir);
  o.max_size = given(a.max_size);
  o.max_entries = given(a.max_entries);
  o.compress = given(a.compress);
  o.signing_key = given(a.signing_key);
  o.trusted_keys = given(a.trusted_keys);
  o.require_signature = given(a.require_signature);
  o.remote = given(a.remote);
  if (a.remote_read_only) o.remote_read_only = "on";  // the flag only ever turns it on
  o.event_log = given(a.event_log);
  return resolve_store_config(o);
}

void print_store_warning(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
}

OpenedStore open_cli_store() {
  return open_store(resolve_cli_store_config(), print_store_warning);
}

std::unique_ptr<SingleFlight> open_single_flight(Store& store, SingleFlightOptions options) {
  return make_single_flight(store, resolve_cli_store_config(), print_store_warning, options);
}

void write_output_file(const std::string& path, const uint8_t* data, uint64_t size) {
  if (path == "-") return write_all(STDOUT_FILENO, data, size, "stdout");
  write_file_atomically(path, data, size, /*durable=*/true);
}

}  // namespace graphcache::cli
