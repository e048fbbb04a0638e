// ONNX loader on arbitrary bytes: it must either load (and then key) or throw graphcache::Error.
#include <cstdint>
#include <string_view>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto graph =
        graphcache::load_onnx_bytes(std::string_view(reinterpret_cast<const char*>(data), size), "");
    (void)graphcache::compute_key(graph);
  } catch (const graphcache::Error&) {
  }
  return 0;
}
