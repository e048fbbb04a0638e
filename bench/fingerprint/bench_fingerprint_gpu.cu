// GPU weight fingerprint on Llama2-7b-shaped fp16 weights (291 tensors, 13.5 GB) in device memory:
// end-to-end GB/s of fingerprint_device_weights vs a device-to-device copy of the same bytes, and the
// GPU digest checked against the CPU fingerprint of the same bytes copied to the host.
// Usage: bench_fingerprint_gpu [layers=32] [cpu_threads=hardware_concurrency]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "graphcache/fingerprint.hpp"

namespace {

using Clock = std::chrono::steady_clock;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
    std::exit(2);
  }
}

struct Tensor {
  std::vector<int64_t> dims;
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

// Llama2-7b: vocab 32000, hidden 4096, MLP 11008, 32 layers; fp16. Tensors 256-byte aligned in one
// allocation, as a caching allocator places them.
std::vector<Tensor> llama2_7b_fp16(int layers, uint64_t& total) {
  std::vector<std::vector<int64_t>> shapes{{32000, 4096}};
  for (int layer = 0; layer < layers; ++layer) {
    for (int i = 0; i < 4; ++i) shapes.push_back({4096, 4096});  // q, k, v, o
    shapes.push_back({11008, 4096});                             // gate
    shapes.push_back({11008, 4096});                             // up
    shapes.push_back({4096, 11008});                             // down
    shapes.push_back({4096});                                    // input norm
    shapes.push_back({4096});                                    // post-attention norm
  }
  shapes.push_back({4096});
  shapes.push_back({32000, 4096});
  std::vector<Tensor> tensors;
  total = 0;
  for (auto& dims : shapes) {
    uint64_t elements = 1;
    for (int64_t d : dims) elements *= static_cast<uint64_t>(d);
    tensors.push_back(Tensor{dims, total, elements * 2});
    total += (elements * 2 + 255) / 256 * 256;
  }
  return tensors;
}

__global__ void fill_random(uint64_t* words, uint64_t count, uint64_t seed) {
  for (uint64_t i = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count;
       i += uint64_t{gridDim.x} * blockDim.x) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    words[i] = z ^ (z >> 31);
  }
}

std::string hex(const graphcache::Digest& digest) {
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (uint8_t byte : digest.bytes) {
    text.push_back(digits[byte >> 4]);
    text.push_back(digits[byte & 15]);
  }
  return text;
}

template <typename F>
std::pair<double, double> best_and_median(int repeats, F&& run) {
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    run();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return {seconds.front(), seconds[seconds.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  const int layers = argc > 1 ? std::atoi(argv[1]) : 32;
  const unsigned cpu_threads = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2]))
                                        : std::max(1u, std::thread::hardware_concurrency());
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
  uint64_t total = 0;
  const std::vector<Tensor> tensors = llama2_7b_fp16(layers, total);
  uint64_t payload = 0;
  for (const Tensor& t : tensors) payload += t.bytes;

  uint8_t* weights = nullptr;
  uint8_t* scratch = nullptr;
  check(cudaMalloc(&weights, total), "cudaMalloc weights");
  check(cudaMalloc(&scratch, total), "cudaMalloc copy target");
  fill_random<<<4 * properties.multiProcessorCount, 512>>>(reinterpret_cast<uint64_t*>(weights), total / 8,
                                                           42);
  check(cudaDeviceSynchronize(), "fill");

  std::vector<graphcache::DeviceWeightView> views;
  for (const Tensor& t : tensors)
    views.push_back({graphcache::ir::DType::kFloat16, t.dims, weights + t.offset, t.bytes});
  // Views whose start is only 8, 4 or 2 bytes aligned (a storage offset): the kernel's narrower loads.
  auto shifted_views = [&](uint64_t shift) {
    std::vector<graphcache::DeviceWeightView> shifted;
    for (const Tensor& t : tensors) {
      shifted.push_back({graphcache::ir::DType::kFloat16,
                         {static_cast<int64_t>((t.bytes - shift) / 2)},
                         weights + t.offset + shift,
                         t.bytes - shift});
    }
    return shifted;
  };
  graphcache::Digest gpu = graphcache::fingerprint_device_weights(views);  // warm-up
  constexpr int kRepeats = 10;
  const auto [fp_best, fp_median] =
      best_and_median(kRepeats, [&] { gpu = graphcache::fingerprint_device_weights(views); });
  std::vector<std::pair<uint64_t, double>> shifted_best;
  for (uint64_t shift : {8, 4, 2}) {
    const auto shifted = shifted_views(shift);
    shifted_best.emplace_back(
        shift, best_and_median(3, [&] { graphcache::fingerprint_device_weights(shifted); }).first);
  }

  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  check(cudaMemcpy(scratch, weights, total, cudaMemcpyDeviceToDevice), "warm-up copy");
  float copy_best_ms = 1e30f;
  for (int i = 0; i < kRepeats; ++i) {
    check(cudaEventRecord(start), "record");
    check(cudaMemcpyAsync(scratch, weights, total, cudaMemcpyDeviceToDevice), "copy");
    check(cudaEventRecord(stop), "record");
    check(cudaEventSynchronize(stop), "sync");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    copy_best_ms = std::min(copy_best_ms, ms);
  }
  check(cudaFree(scratch), "cudaFree");

  // The same bytes on the host, fingerprinted by the CPU implementation.
  std::unique_ptr<uint8_t[]> host(new uint8_t[total]);
  const auto copy_start = Clock::now();
  check(cudaMemcpy(host.get(), weights, total, cudaMemcpyDeviceToHost), "copy to host");
  const double d2h = std::chrono::duration<double>(Clock::now() - copy_start).count();
  std::vector<graphcache::WeightView> cpu_views;
  for (const Tensor& t : tensors) {
    graphcache::WeightView view{graphcache::ir::DType::kFloat16, t.dims, {}, ""};
    view.data.source = graphcache::ir::WeightData::Source::kMemory;
    view.data.pointer = host.get() + t.offset;
    view.data.length = t.bytes;
    cpu_views.push_back(view);
  }
  graphcache::FingerprintOptions options;
  options.threads = cpu_threads;
  graphcache::Digest cpu;
  const auto [cpu_best, cpu_median] =
      best_and_median(2, [&] { cpu = graphcache::fingerprint_weights(cpu_views, options); });

  const double gb = payload / 1e9;
  const double copy_s = copy_best_ms / 1e3;
  std::printf("device %s (%d SMs), %zu fp16 tensors, %.3f GB (Llama2-7b shapes, %d layers)\n",
              properties.name, properties.multiProcessorCount, tensors.size(), gb, layers);
  std::printf("GPU fingerprint %s\nCPU fingerprint %s\nGPU == CPU: %s\n", hex(gpu).c_str(), hex(cpu).c_str(),
              gpu == cpu ? "yes" : "NO");
  std::printf("%-52s %10s %10s\n", "", "time", "GB/s");
  std::printf("%-52s %8.2f ms %10.1f   (median %.2f ms)\n", "GPU fingerprint, end to end (best of 10)",
              fp_best * 1e3, gb / fp_best, fp_median * 1e3);
  for (const auto& [shift, seconds] : shifted_best) {
    const std::string what = "GPU fingerprint, views " + std::to_string(shift) + "-byte aligned (best of 3)";
    std::printf("%-52s %8.2f ms %10.1f\n", what.c_str(), seconds * 1e3, gb / seconds);
  }
  std::printf("%-52s %8.2f ms %10.1f   (read+write %.1f GB/s)\n",
              "device-to-device copy of the same bytes (best of 10)", copy_best_ms, total / 1e9 / copy_s,
              2 * total / 1e9 / copy_s);
  std::printf("%-52s %10.2f x\n", "fingerprint read GB/s / copy read GB/s",
              (gb / fp_best) / (total / 1e9 / copy_s));
  std::printf("%-52s %8.0f ms %10.1f\n", "device-to-host copy (pageable)", d2h * 1e3, total / 1e9 / d2h);
  std::printf("%-52s %8.0f ms %10.1f   (%u threads)\n", "CPU fingerprint of the same bytes (best of 2)",
              cpu_best * 1e3, gb / cpu_best, cpu_threads);
  check(cudaFree(weights), "cudaFree");
  return gpu == cpu ? 0 : 1;
}
