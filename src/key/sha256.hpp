// Byte encoder + SHA-256 (OpenSSL). Everything hashed is first encoded unambiguously: fixed-width
// little-endian integers and length-prefixed strings, each field behind a tag, so two different
// structures can never encode to the same bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

#include "graphcache/digest.hpp"

namespace graphcache::key {

class Encoder {
 public:
  void tag(char t) { buffer_.push_back(t); }
  void u8(uint8_t v) { buffer_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void f64(double v) {  // exact IEEE-754 bits: -0.0 != 0.0, NaN payloads distinct
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u64(bits);
  }
  // LEB128: small counts, lengths and indices take one byte instead of eight, which halves what is
  // hashed per node. Prefix-free, so the encoding stays unambiguous.
  void uvar(uint64_t v) {
    char bytes[10];
    size_t n = 0;
    do {
      bytes[n++] = static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    } while (v != 0);
    buffer_.append(bytes, n);
  }
  void svar(int64_t v) {  // zigzag: -1 -> 1, 1 -> 2
    uvar((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void str(std::string_view s) {
    uvar(s.size());
    buffer_.append(s.data(), s.size());
  }
  void digest(const Digest& d) { raw(d.bytes.data(), d.bytes.size()); }
  void raw(const void* p, size_t n) { buffer_.append(static_cast<const char*>(p), n); }

  const std::string& bytes() const { return buffer_; }
  void clear() { buffer_.clear(); }

 private:
  std::string buffer_;  // little-endian hosts only (static_assert in sha256.cpp)
};

Digest sha256(std::string_view bytes);
// SHA-256 of the concatenation, without building it (the canonical form of a big graph is ~100 KB).
Digest sha256(std::initializer_list<std::string_view> pieces);
inline Digest sha256(const Encoder& e) {
  return sha256(e.bytes());
}

}  // namespace graphcache::key
