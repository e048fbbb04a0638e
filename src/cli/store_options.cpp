#include "store_options.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "graphcache/error.hpp"
#include "graphcache/event_log.hpp"
#include "graphcache/layered_store.hpp"
#include "graphcache/redis_store.hpp"
#include "graphcache/signing.hpp"

namespace graphcache::cli {
namespace {

std::optional<std::string> given(const std::string& value) {
  return value.empty() ? std::nullopt : std::optional<std::string>(value);
}

void write_all(int fd, const uint8_t* data, uint64_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, std::min<uint64_t>(size, 1 << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::kIo, "cannot write '" + path + "': " + std::strerror(errno));
    }
    data += n;
    size -= static_cast<uint64_t>(n);
  }
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
  return resolve_store_config(o);
}

std::unique_ptr<LocalStore> open_local_store() {
  return std::make_unique<LocalStore>(resolve_cli_store_config());
}

namespace {

std::string remote_url() {
  const char* env_remote = std::getenv("GRAPHCACHE_REMOTE");
  const std::string& flag = store_option_args().remote;
  return !flag.empty() ? flag : env_remote ? env_remote : "";
}

// Flag > environment, with the boolean syntax of every other setting (parse_bool): =on works as =1.
bool remote_read_only() {
  if (store_option_args().remote_read_only) return true;
  const char* env = std::getenv("GRAPHCACHE_REMOTE_READ_ONLY");
  if (!env || !*env) return false;
  return parse_bool(env, "environment variable GRAPHCACHE_REMOTE_READ_ONLY");
}

void print_warning(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
}

}  // namespace

bool remote_configured() {
  return !remote_url().empty();
}

bool remote_is_read_only() {
  return remote_read_only();
}

std::unique_ptr<Store> open_store() {
  const std::string url = remote_url();
  // GRAPHCACHE_EVENT_LOG: every lookup and put as a JSON line (include/graphcache/event_log.hpp).
  if (url.empty()) return with_event_log(open_local_store(), EventLog::from_environment());
  LayeredStoreOptions options;
  options.remote_read_only = remote_read_only();
  auto local = open_local_store();
  auto remote = std::make_shared<RedisStore>(RedisConfig::from_url(url), print_warning);
  remote->set_trust(make_entry_trust(local->config().trust));
  return with_event_log(std::make_unique<LayeredStore>(std::shared_ptr<Store>(std::move(local)),
                                                       std::move(remote), options, print_warning),
                        EventLog::from_environment());
}

std::unique_ptr<SingleFlight> open_single_flight(Store& store, SingleFlightOptions options) {
  const std::string url = remote_url();
  std::optional<RedisConfig> shared;
  if (!url.empty() && !remote_read_only()) shared = RedisConfig::from_url(url);
  return make_single_flight(store, resolve_cli_store_config().cache_dir, shared, print_warning, options);
}

void write_output_file(const std::string& path, const uint8_t* data, uint64_t size) {
  if (path == "-") {
    write_all(STDOUT_FILENO, data, size, "stdout");
    return;
  }
  std::filesystem::path target(path);
  std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string temp =
      (dir / (".graphcache-" + std::to_string(::getpid()) + "-" + target.filename().string())).string();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ErrorKind::kIo, "cannot create '" + temp + "': " + std::strerror(errno));
  try {
    write_all(fd, data, size, path);
    if (::close(fd) != 0) {
      fd = -1;
      throw Error(ErrorKind::kIo, "cannot write '" + path + "': " + std::strerror(errno));
    }
    fd = -1;
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      throw Error(ErrorKind::kIo, "cannot write '" + path + "': " + std::strerror(errno));
    }
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
}

}  // namespace graphcache::cli
