// RedisConfig::from_url: `redis://[[user]:password@]host[:port][/db][?prefix=..&ttl=..&timeout_ms=..
// &connect_timeout_ms=..&chunk_mib=..]`. Percent-escapes are decoded in the user, password and prefix.
#include <charconv>
#include <string>

#include "graphcache/error.hpp"
#include "graphcache/redis_store.hpp"

namespace graphcache {
namespace {

[[noreturn]] void bad_url(std::string_view url, const std::string& why) {
  // Never echo the URL itself: it may hold a password.
  (void)url;
  throw Error(ErrorKind::kInvalidArgument,
              "invalid redis URL: " + why + " (expected redis://[[user]:password@]host[:port][/db])");
}

int64_t parse_number(std::string_view url, std::string_view text, const char* what, int64_t min,
                     int64_t max) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    bad_url(url, std::string(what) + " must be an integer in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "], got '" + std::string(text) + "'");
  }
  return value;
}

std::string percent_decode(std::string_view url, std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) bad_url(url, "truncated percent escape");
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || end != text.data() + i + 3) bad_url(url, "bad percent escape");
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

void apply_query(std::string_view url, std::string_view query, RedisConfig& config) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) bad_url(url, "query item '" + std::string(item) + "' has no '='");
    const std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    if (name == "prefix") {
      config.key_prefix = percent_decode(url, value);
    } else if (name == "ttl") {
      config.ttl = std::chrono::seconds(parse_number(url, value, "ttl", 0, int64_t{1} << 40));
    } else if (name == "timeout_ms") {
      config.io_timeout = std::chrono::milliseconds(parse_number(url, value, "timeout_ms", 1, 3'600'000));
    } else if (name == "connect_timeout_ms") {
      config.connect_timeout =
          std::chrono::milliseconds(parse_number(url, value, "connect_timeout_ms", 1, 3'600'000));
    } else if (name == "max_engine_mib") {
      config.max_engine_bytes =
          static_cast<uint64_t>(parse_number(url, value, "max_engine_mib", 1, int64_t{1} << 30)) << 20;
    } else if (name == "chunk_mib") {
      config.chunk_bytes = static_cast<uint64_t>(parse_number(url, value, "chunk_mib", 1, 512)) << 20;
    } else {
      bad_url(url, "unknown query parameter '" + std::string(name) + "'");
    }
  }
}

}  // namespace

RedisConfig RedisConfig::from_url(std::string_view url) {
  RedisConfig config;
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) bad_url(url, "it must start with redis://");
  std::string_view rest = url.substr(kScheme.size());

  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    apply_query(url, rest.substr(q + 1), config);
    rest = rest.substr(0, q);
  }
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      config.password = percent_decode(url, userinfo);  // redis://secret@host, as redis-cli accepts
    } else {
      config.username = percent_decode(url, userinfo.substr(0, colon));
      config.password = percent_decode(url, userinfo.substr(colon + 1));
    }
  }
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) config.db = static_cast<int>(parse_number(url, db, "database", 0, 1 << 20));
    rest = rest.substr(0, slash);
  }
  std::string_view host = rest;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:6379
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) bad_url(url, "unterminated [ in the host");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') bad_url(url, "unexpected text after ]");
    if (!rest.empty()) config.port = static_cast<int>(parse_number(url, rest.substr(1), "port", 1, 65535));
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    config.port = static_cast<int>(parse_number(url, rest.substr(colon + 1), "port", 1, 65535));
  }
  if (host.empty()) bad_url(url, "the host is empty");
  config.host = std::string(host);
  return config;
}

std::string RedisConfig::redacted_url() const {
  std::string url = "redis://";
  if (!username.empty() || !password.empty()) url += username + (password.empty() ? "@" : ":***@");
  const bool ipv6 = host.find(':') != std::string::npos;
  url += (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
  return url;
}

}  // namespace graphcache
