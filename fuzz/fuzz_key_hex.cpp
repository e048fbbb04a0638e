// Key hex parser: every input is either refused with graphcache::Error or round-trips exactly.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "graphcache/digest.hpp"
#include "graphcache/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = graphcache::Digest::is_valid_hex(text);
  try {
    const auto digest = graphcache::Digest::from_hex(text);
    if (!valid || digest.hex() != text) std::abort();
  } catch (const graphcache::Error&) {
    if (valid) std::abort();
  }
  return 0;
}
