#include "graphcache/store_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "graphcache/error.hpp"

extern char** environ;

namespace graphcache {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

[[noreturn]] void bad(const std::string& source, const std::string& message) {
  throw Error(ErrorKind::kInvalidArgument, source + ": " + message);
}

uint64_t parse_count(const std::string& text, const std::string& source) {
  const std::string t = trim(text);
  if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 18) {
    bad(source, "expected a non-negative integer, got '" + text + "'");
  }
  return std::stoull(t);
}

// "~" and "~/..." mean $HOME as in a shell (a config file or a quoted flag gets no shell expansion, and
// a literal "~" folder in the working directory is never what was meant). "~user" is left alone.
std::string expand_home(const std::string& path, const std::map<std::string, std::string>& env) {
  if (path != "~" && !path.starts_with("~/")) return path;
  auto home = env.find("HOME");
  if (home == env.end() || home->second.empty())
    throw Error(ErrorKind::kInvalidArgument, "cannot expand '" + path + "': HOME is not set");
  return home->second + path.substr(1);
}

// The trust settings (signing.hpp). trusted_keys replaces the list of a lower-precedence source.
void apply_trust(TrustConfig& t, const std::string& name, const std::string& value, const std::string& source,
                 const std::map<std::string, std::string>& env) {
  if (name == "require_signature") {
    t.require_signature = parse_bool(value, source);
  } else if (name == "signing_key") {
    t.signing_key = trim(value).empty() ? std::string() : expand_home(trim(value), env);
  } else {
    t.trusted_keys.clear();
    std::string_view rest(value);
    for (size_t colon; !rest.empty();
         rest = colon == rest.npos ? std::string_view() : rest.substr(colon + 1)) {
      colon = rest.find(':');
      if (const std::string path = trim(rest.substr(0, colon)); !path.empty())
        t.trusted_keys.push_back(expand_home(path, env));
    }
  }
}

// Applies one `name = value` setting; `source` names where it came from for error messages.
void apply(StoreConfig& c, const std::string& name, const std::string& value, const std::string& source,
           const std::map<std::string, std::string>& env) {
  try {
    if (name == "cache_dir") {
      if (trim(value).empty()) bad(source, "cache_dir is empty");
      c.cache_dir = expand_home(trim(value), env);
    } else if (name == "max_size") {
      c.max_size = parse_size(value);
    } else if (name == "max_entries") {
      c.max_entries = parse_count(value, source);
    } else if (name == "compress") {
      c.compress = parse_bool(value, source);
    } else if (name == "compress_level") {
      const uint64_t level = parse_count(value, source);
      if (level < 1 || level > 19) bad(source, "compress_level must be 1..19");
      c.compress_level = static_cast<int>(level);
    } else if (name == "fsync") {
      c.fsync = parse_bool(value, source);
    } else if (name == "stale_temp_minutes") {
      c.stale_temp_minutes = parse_count(value, source);
    } else if (name == "signing_key" || name == "trusted_keys" || name == "require_signature") {
      apply_trust(c.trust, name, value, source, env);
    } else if (name == "remote") {
      c.remote = trim(value);  // validated by open_store, which knows the schemes
    } else if (name == "remote_read_only") {
      c.remote_read_only = parse_bool(value, source);
    } else if (name == "event_log") {
      c.event_log = trim(value).empty() ? std::string() : expand_home(trim(value), env);
    } else {
      bad(source, "unknown setting '" + name + "'");
    }
  } catch (const Error& e) {
    if (std::string(e.what()).starts_with(source)) throw;
    bad(source, e.what());
  }
}

std::string home_relative(const char* xdg_var, const char* fallback,
                          const std::map<std::string, std::string>& env) {
  auto xdg = env.find(xdg_var);
  if (xdg != env.end() && !xdg->second.empty()) return xdg->second + "/graphcache";
  auto home = env.find("HOME");
  std::string base = (home != env.end() && !home->second.empty()) ? home->second : std::string("/tmp");
  return base + "/" + fallback + "/graphcache";
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos)
      env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace

bool parse_bool(std::string_view text, const std::string& source) {
  const std::string t = lower(trim(text));
  if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
  if (t == "0" || t == "false" || t == "no" || t == "off") return false;
  bad(source, "expected a boolean (on/off, true/false, yes/no, 1/0), got '" + std::string(text) + "'");
}

uint64_t parse_size(std::string_view text) {
  const std::string t = lower(trim(text));
  size_t end = 0;
  while (end < t.size() && (std::isdigit(static_cast<unsigned char>(t[end])) || t[end] == '.')) ++end;
  std::string number = t.substr(0, end), suffix = trim(t.substr(end));
  if (number.empty() || number.front() == '.' || std::count(number.begin(), number.end(), '.') > 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "invalid size '" + std::string(text) + "': expected e.g. 512M or 10G");
  }
  if (suffix.ends_with("ib")) {
    suffix.resize(suffix.size() - 2);
  } else if (suffix.size() == 2 && suffix.back() == 'b') {
    suffix.pop_back();
  } else if (suffix == "b") {
    suffix.clear();
  }
  static const std::map<std::string, int> kShift = {{"", 0}, {"k", 10}, {"m", 20}, {"g", 30}, {"t", 40}};
  auto shift = kShift.find(suffix);
  if (shift == kShift.end()) {
    throw Error(ErrorKind::kInvalidArgument,
                "invalid size '" + std::string(text) + "': unknown suffix (use K, M, G or T)");
  }
  const double value = std::strtod(number.c_str(), nullptr) * std::ldexp(1.0, shift->second);
  if (!(value < 1.8e19))
    throw Error(ErrorKind::kInvalidArgument, "size '" + std::string(text) + "' is too large");
  return static_cast<uint64_t>(value);
}

std::string format_size(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), unit == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string default_cache_dir() {
  return home_relative("XDG_CACHE_HOME", ".cache", process_environment());
}

std::string default_config_file() {
  return home_relative("XDG_CONFIG_HOME", ".config", process_environment()) + "/graphcache.conf";
}

StoreConfig resolve_store_config(const StoreConfigOverrides& overrides,
                                 const std::map<std::string, std::string>* environment) {
  const std::map<std::string, std::string> process_env =
      environment ? std::map<std::string, std::string>{} : process_environment();
  const auto& env = environment ? *environment : process_env;
  auto env_value = [&](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };

  // 4. defaults
  StoreConfig c;
  c.cache_dir = home_relative("XDG_CACHE_HOME", ".cache", env);

  // 3. config file
  std::string file = home_relative("XDG_CONFIG_HOME", ".config", env) + "/graphcache.conf";
  bool named = false;
  if (overrides.config_file) {
    file = expand_home(*overrides.config_file, env);
    named = true;
  } else if (auto f = env_value("GRAPHCACHE_CONFIG")) {
    file = expand_home(*f, env);
    named = true;
  }
  std::ifstream in(file);
  if (!in && named) throw Error(ErrorKind::kInvalidArgument, "cannot read config file '" + file + "'");
  std::string line;
  for (int number = 1; in && std::getline(in, line); ++number) {
    const std::string source = file + ":" + std::to_string(number);
    std::string text = trim(line.substr(0, line.find('#')));
    if (text.empty()) continue;
    size_t eq = text.find('=');
    if (eq == std::string::npos) bad(source, "expected 'name = value', got '" + text + "'");
    apply(c, trim(text.substr(0, eq)), trim(text.substr(eq + 1)), source, env);
  }

  // 2. environment
  static const std::pair<const char*, const char*> kEnv[] = {
      {"GRAPHCACHE_DIR", "cache_dir"},
      {"GRAPHCACHE_MAX_SIZE", "max_size"},
      {"GRAPHCACHE_MAX_ENTRIES", "max_entries"},
      {"GRAPHCACHE_COMPRESS", "compress"},
      {"GRAPHCACHE_COMPRESS_LEVEL", "compress_level"},
      {"GRAPHCACHE_FSYNC", "fsync"},
      {"GRAPHCACHE_SIGNING_KEY", "signing_key"},
      {"GRAPHCACHE_TRUSTED_KEYS", "trusted_keys"},
      {"GRAPHCACHE_REQUIRE_SIGNATURE", "require_signature"},
      {"GRAPHCACHE_REMOTE", "remote"},
      {"GRAPHCACHE_REMOTE_READ_ONLY", "remote_read_only"},
      {"GRAPHCACHE_EVENT_LOG", "event_log"},
  };
  for (const auto& [var, name] : kEnv) {
    if (auto v = env_value(var)) apply(c, name, *v, std::string("environment variable ") + var, env);
  }

  // 1. explicit flags
  if (overrides.cache_dir) apply(c, "cache_dir", *overrides.cache_dir, "--cache-dir", env);
  if (overrides.max_size) apply(c, "max_size", *overrides.max_size, "--max-size", env);
  if (overrides.max_entries) apply(c, "max_entries", *overrides.max_entries, "--max-entries", env);
  if (overrides.compress) apply(c, "compress", *overrides.compress, "--compress", env);
  if (overrides.signing_key) apply(c, "signing_key", *overrides.signing_key, "--signing-key", env);
  if (overrides.trusted_keys) apply(c, "trusted_keys", *overrides.trusted_keys, "--trusted-keys", env);
  if (overrides.require_signature)
    apply(c, "require_signature", *overrides.require_signature, "--require-signature", env);
  if (overrides.remote) apply(c, "remote", *overrides.remote, "--remote", env);
  if (overrides.remote_read_only)
    apply(c, "remote_read_only", *overrides.remote_read_only, "--remote-read-only", env);
  if (overrides.event_log) apply(c, "event_log", *overrides.event_log, "--event-log", env);
  return c;
}

}  // namespace graphcache
