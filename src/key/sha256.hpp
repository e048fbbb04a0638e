// Byte encoder + SHA-256 (OpenSSL). Everything hashed is first encoded unambiguously: fixed-width
// little-endian integers and length-prefixed strings, each field behind a tag, so two different
// structures can never encode to the same bytes.
#pragma once

#include <cstdint>
#include <cstring>
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
  void str(std::string_view s) {
    u64(s.size());
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
inline Digest sha256(const Encoder& e) {
  return sha256(e.bytes());
}

}  // namespace graphcache::key
