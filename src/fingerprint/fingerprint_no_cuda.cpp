// Built when the CUDA fingerprint is not (GRAPHCACHE_CUDA=OFF, or AUTO without a CUDA compiler).
#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"

namespace graphcache {

bool cuda_fingerprint_available() noexcept {
  return false;
}

Digest fingerprint_device_weights(const std::vector<DeviceWeightView>&, const DeviceFingerprintOptions&) {
  throw Error(ErrorKind::kUnsupported, "graphcache was built without CUDA (GRAPHCACHE_CUDA=OFF or no nvcc)");
}

}  // namespace graphcache
