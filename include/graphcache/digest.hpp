// A 256-bit digest (SHA-256) and its validated hex form. Every key that reaches the file system or a
// Redis key goes through Digest::from_hex, which accepts exactly 64 lowercase/uppercase hex digits.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace graphcache {

struct Digest {
  std::array<uint8_t, 32> bytes{};

  std::string hex() const;
  // Throws Error(kInvalidArgument) unless `text` is exactly 64 hex digits.
  static Digest from_hex(std::string_view text);
  static bool is_valid_hex(std::string_view text) noexcept;
  auto operator<=>(const Digest&) const = default;
};

using Key = Digest;

}  // namespace graphcache

template <>
struct std::hash<graphcache::Digest> {
  size_t operator()(const graphcache::Digest& d) const noexcept {
    size_t h;
    static_assert(sizeof(h) <= sizeof(d.bytes));
    __builtin_memcpy(&h, d.bytes.data(), sizeof(h));
    return h;
  }
};
