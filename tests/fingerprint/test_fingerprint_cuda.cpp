// GPU fingerprint == CPU fingerprint on the same bytes (skipped where no CUDA device is visible).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"

namespace graphcache {
namespace {

constexpr uint64_t kChunk = kFingerprintChunkBytes;

class DeviceBytes {
 public:
  explicit DeviceBytes(const std::vector<uint8_t>& host, size_t pad = 0) {
    EXPECT_EQ(cudaMalloc(&base_, host.size() + pad + 1), cudaSuccess);
    pointer_ = static_cast<uint8_t*>(base_) + pad;
    EXPECT_EQ(cudaMemcpy(pointer_, host.data(), host.size(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceBytes() { cudaFree(base_); }
  const void* get() const { return pointer_; }

 private:
  void* base_ = nullptr;
  uint8_t* pointer_ = nullptr;
};

std::vector<uint8_t> random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::vector<uint8_t> bytes(size);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(generator());
  return bytes;
}

class FingerprintCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_fingerprint_available()) GTEST_SKIP() << "no CUDA device";
  }
};

// Slots of the given sizes, each placed `pad` bytes past a cudaMalloc base (pad 0: aligned).
void expect_gpu_equals_cpu(const std::vector<uint64_t>& sizes, size_t pad) {
  std::vector<std::vector<uint8_t>> host;
  std::vector<std::unique_ptr<DeviceBytes>> device;
  std::vector<WeightView> cpu_views;
  std::vector<DeviceWeightView> gpu_views;
  for (size_t i = 0; i < sizes.size(); ++i) {
    host.push_back(random_bytes(sizes[i], 1000 * pad + i));
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    device.push_back(std::make_unique<DeviceBytes>(host[i], pad));
    const std::vector<int64_t> dims{static_cast<int64_t>(sizes[i]), 1};
    WeightView view{ir::DType::kUInt8, dims, {}, "w"};
    view.data.source = ir::WeightData::Source::kMemory;
    view.data.pointer = host[i].data();
    view.data.length = sizes[i];
    cpu_views.push_back(view);
    gpu_views.push_back(DeviceWeightView{ir::DType::kUInt8, dims, device[i]->get(), sizes[i]});
  }
  EXPECT_EQ(fingerprint_device_weights(gpu_views), fingerprint_weights(cpu_views)) << "pad " << pad;
}

TEST_F(FingerprintCuda, OddSizesAlignedAndUnalignedEqualCpu) {
  const std::vector<uint64_t> sizes{0,
                                    1,
                                    3,
                                    8,
                                    9,
                                    16,
                                    17,
                                    128,
                                    129,
                                    240,
                                    241,
                                    1000,
                                    1024,
                                    1025,
                                    kChunk - 1,
                                    kChunk,
                                    kChunk + 1,
                                    3 * kChunk + 12345,
                                    64 * kChunk + 7};
  // Every load width of the kernel: 16-byte aligned, 8, 4, 2 and 1.
  for (size_t pad : {0, 1, 2, 3, 4, 6, 8, 12}) expect_gpu_equals_cpu(sizes, pad);
}

TEST_F(FingerprintCuda, EverySmallLengthEqualsCpu) {
  std::vector<uint64_t> sizes;
  for (uint64_t length = 0; length <= 2100; ++length) sizes.push_back(length);
  expect_gpu_equals_cpu(sizes, 0);
}

TEST_F(FingerprintCuda, HostPointerIsRejected) {
  const std::vector<uint8_t> host(100, 1);
  try {
    fingerprint_device_weights({DeviceWeightView{ir::DType::kUInt8, {100}, host.data(), host.size()}});
    FAIL() << "no error thrown";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
  }
}

}  // namespace
}  // namespace graphcache
