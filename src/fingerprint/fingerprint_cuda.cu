// GPU weight fingerprint: the kFast chunk digests (XXH3-128 of 1 MiB chunks) computed in place on
// device tensors, then combined on the host by the same code as the CPU path, so both give the same
// digest. Four threads share a chunk, one XXH3 accumulator lane pair each (see xxh3_port.hpp), reading
// 16 bytes per stripe: a warp covers 8 chunks with every 32-byte sector it loads fully used.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"
#include "xxh3_port.hpp"

namespace graphcache {
namespace {

constexpr int kThreadsPerChunk = 4;
constexpr int kBlockThreads = 128;
constexpr size_t kDigestBytes = 16;

struct DeviceChunk {
  const uint8_t* data;
  uint64_t length;
};

// Stripes of a 16-byte aligned chunk: one vector load each; the secret sits in shared memory.
struct AlignedDeviceLoad {
  GC_HD static void load16(const uint8_t* p, uint64_t& lo, uint64_t& hi) {
#if defined(__CUDA_ARCH__)
    const ulonglong2 v = __ldg(reinterpret_cast<const ulonglong2*>(p));
    lo = v.x;
    hi = v.y;
#else
    xxh3::PortableLoad::load16(p, lo, hi);
#endif
  }
  GC_HD static uint64_t key64(const uint8_t* secret, int offset) {
    return *reinterpret_cast<const uint64_t*>(secret + offset);  // offset is a multiple of 8
  }
};

// Chunks of tensors that start off a 16-byte boundary (views with a storage offset): the widest loads
// the start's alignment allows (kWidth = 8, 4, 2 or 1 bytes), assembled little-endian.
template <int kWidth>
struct NarrowDeviceLoad {
  GC_HD static uint64_t load8(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
    if constexpr (kWidth == 8) return __ldg(reinterpret_cast<const unsigned long long*>(p));
    if constexpr (kWidth == 4) {
      const auto* words = reinterpret_cast<const unsigned int*>(p);
      return uint64_t{__ldg(words)} | (uint64_t{__ldg(words + 1)} << 32);
    }
    if constexpr (kWidth == 2) {
      const auto* halves = reinterpret_cast<const unsigned short*>(p);
      uint64_t value = 0;
      for (int i = 0; i < 4; ++i) value |= uint64_t{__ldg(halves + i)} << (16 * i);
      return value;
    }
#endif
    return xxh3::read_le64(p);
  }
  GC_HD static void load16(const uint8_t* p, uint64_t& lo, uint64_t& hi) {
    lo = load8(p);
    hi = load8(p + 8);
  }
  GC_HD static uint64_t key64(const uint8_t* secret, int offset) {
    return AlignedDeviceLoad::key64(secret, offset);
  }
};

__global__ void __launch_bounds__(kBlockThreads)
    chunk_digest_kernel(const DeviceChunk* chunks, uint64_t chunk_count, uint8_t* digests,
                        xxh3::Secret secret) {
  __shared__ alignas(16) uint8_t shared_secret[xxh3::kSecretSize];
  for (int i = threadIdx.x; i < xxh3::kSecretSize; i += blockDim.x) shared_secret[i] = secret.bytes[i];
  __syncthreads();

  const uint64_t thread = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const uint64_t index = thread / kThreadsPerChunk;
  const int pair = static_cast<int>(thread % kThreadsPerChunk);
  if (index >= chunk_count) return;  // whole groups of four leave together
  const DeviceChunk chunk = chunks[index];
  uint8_t* out = digests + index * kDigestBytes;
  if (chunk.length <= xxh3::kMidSizeMax) {
    if (pair == 0) xxh3::to_canonical(xxh3::hash_short(chunk.data, chunk.length, shared_secret), out);
    return;
  }
  uint64_t a0, a1;
  const auto address = reinterpret_cast<uintptr_t>(chunk.data);
  if ((address & 15) == 0) {
    xxh3::long_pair<AlignedDeviceLoad>(chunk.data, chunk.length, shared_secret, pair, a0, a1);
  } else if ((address & 7) == 0) {
    xxh3::long_pair<NarrowDeviceLoad<8>>(chunk.data, chunk.length, shared_secret, pair, a0, a1);
  } else if ((address & 3) == 0) {
    xxh3::long_pair<NarrowDeviceLoad<4>>(chunk.data, chunk.length, shared_secret, pair, a0, a1);
  } else if ((address & 1) == 0) {
    xxh3::long_pair<NarrowDeviceLoad<2>>(chunk.data, chunk.length, shared_secret, pair, a0, a1);
  } else {
    xxh3::long_pair<NarrowDeviceLoad<1>>(chunk.data, chunk.length, shared_secret, pair, a0, a1);
  }
  const unsigned lane = threadIdx.x & 31u;
  const unsigned group_first = lane & ~3u;
  const unsigned group_mask = 0xFu << group_first;
  uint64_t acc[8];
#pragma unroll
  for (int p = 0; p < kThreadsPerChunk; ++p) {
    acc[2 * p] = __shfl_sync(group_mask, a0, static_cast<int>(group_first) + p);
    acc[2 * p + 1] = __shfl_sync(group_mask, a1, static_cast<int>(group_first) + p);
  }
  if (pair == 0) xxh3::to_canonical(xxh3::finish_long(acc, chunk.length, shared_secret), out);
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw Error(ErrorKind::kInternal,
                std::string("CUDA fingerprint: ") + what + ": " + cudaGetErrorString(status));
  }
}

// Stream-ordered device memory, released on every path out (cudaFree would synchronize the device).
class DeviceBuffer {
 public:
  DeviceBuffer(size_t bytes, cudaStream_t stream) : stream_(stream) {
    if (bytes > 0) check(cudaMallocAsync(&pointer_, bytes, stream), "cudaMallocAsync");
  }
  ~DeviceBuffer() {
    if (pointer_ != nullptr) cudaFreeAsync(pointer_, stream_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(pointer_);
  }

 private:
  void* pointer_ = nullptr;
  cudaStream_t stream_;
};

void require_device_pointer(const DeviceWeightView& slot, size_t index, int current_device) {
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, slot.device_pointer);
  if (status != cudaSuccess) cudaGetLastError();  // clear the error an unknown pointer leaves behind
  const std::string slot_name = "weight slot " + std::to_string(index);
  if (status != cudaSuccess ||
      (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged)) {
    throw Error(ErrorKind::kInvalidArgument, slot_name + " is not in CUDA device memory");
  }
  if (attributes.type == cudaMemoryTypeDevice && attributes.device != current_device) {
    throw Error(ErrorKind::kInvalidArgument, slot_name + " is on CUDA device " +
                                                 std::to_string(attributes.device) +
                                                 ", the current device is " + std::to_string(current_device));
  }
}

}  // namespace

bool cuda_fingerprint_available() noexcept {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return devices > 0;
}

Digest fingerprint_device_weights(const std::vector<DeviceWeightView>& slots,
                                  const DeviceFingerprintOptions& options) {
  if (!cuda_fingerprint_available()) {
    throw Error(ErrorKind::kUnsupported, "CUDA fingerprint: no CUDA device is visible");
  }
  int current_device = 0;
  check(cudaGetDevice(&current_device), "cudaGetDevice");
  std::vector<SlotLayout> layouts;
  std::vector<DeviceChunk> chunks;
  layouts.reserve(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    const DeviceWeightView& slot = slots[i];
    for (int64_t dim : slot.dims) {
      if (dim < 0)
        throw Error(ErrorKind::kInvalidArgument, "weight slot " + std::to_string(i) + " has a negative dim");
    }
    if (slot.length > 0) require_device_pointer(slot, i, current_device);
    layouts.push_back(SlotLayout{slot.dtype, slot.dims, slot.length});
    const auto* base = static_cast<const uint8_t*>(slot.device_pointer);
    for (uint64_t offset = 0; offset < slot.length; offset += kFingerprintChunkBytes) {
      chunks.push_back(DeviceChunk{base + offset, std::min(kFingerprintChunkBytes, slot.length - offset)});
    }
  }
  std::vector<uint8_t> digests(chunks.size() * kDigestBytes);
  if (!chunks.empty()) {
    auto stream = static_cast<cudaStream_t>(options.stream);
    const DeviceBuffer device_chunks(chunks.size() * sizeof(DeviceChunk), stream);
    const DeviceBuffer device_digests(digests.size(), stream);
    check(cudaMemcpyAsync(device_chunks.as<DeviceChunk>(), chunks.data(), chunks.size() * sizeof(DeviceChunk),
                          cudaMemcpyHostToDevice, stream),
          "copy chunk table");
    const uint64_t threads = chunks.size() * kThreadsPerChunk;
    const auto blocks = static_cast<unsigned>((threads + kBlockThreads - 1) / kBlockThreads);
    chunk_digest_kernel<<<blocks, kBlockThreads, 0, stream>>>(
        device_chunks.as<DeviceChunk>(), chunks.size(), device_digests.as<uint8_t>(), xxh3::kDefaultSecret);
    check(cudaGetLastError(), "kernel launch");
    check(cudaMemcpyAsync(digests.data(), device_digests.as<uint8_t>(), digests.size(),
                          cudaMemcpyDeviceToHost, stream),
          "copy digests");
    check(cudaStreamSynchronize(stream), "kernel");
  }
  return combine_chunk_digests(layouts, digests, FingerprintMode::kFast);
}

}  // namespace graphcache
