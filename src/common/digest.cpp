#include "graphcache/digest.hpp"

#include "graphcache/error.hpp"

namespace graphcache {
namespace {
constexpr char kHexDigits[] = "0123456789abcdef";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is refused: one spelling per key keeps paths unique on any file system
}
}  // namespace

std::string Digest::hex() const {
  std::string out(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
  }
  return out;
}

bool Digest::is_valid_hex(std::string_view text) noexcept {
  if (text.size() != 64) return false;
  for (char c : text)
    if (hex_value(c) < 0) return false;
  return true;
}

Digest Digest::from_hex(std::string_view text) {
  if (!is_valid_hex(text)) {
    std::string shown(text.substr(0, 80));
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    throw Error(ErrorKind::kInvalidArgument, "invalid key '" + shown +
                                                 "': expected 64 lower-case hex digits, got " +
                                                 std::to_string(text.size()) + " characters");
  }
  Digest d;
  for (size_t i = 0; i < d.bytes.size(); ++i)
    d.bytes[i] = static_cast<uint8_t>(hex_value(text[2 * i]) << 4 | hex_value(text[2 * i + 1]));
  return d;
}

}  // namespace graphcache
