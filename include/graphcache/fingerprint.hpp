// The weight fingerprint: a 256-bit digest of an ordered list of weight slots (dtype, shape, bytes),
// separate from the structural key. It decides whether a cached refittable engine already holds the
// current weights (skip the refit) and can be made a key part for non-refittable engines.
//
// Definition (version 1). Every slot's bytes are split into fixed chunks of kFingerprintChunkBytes
// (1 MiB; the last chunk of a slot may be shorter; a 0-byte slot has no chunks). Each chunk is hashed on
// its own with the chunk hash of the mode (kFast: XXH3-128 with the default secret and seed 0, written
// in XXH128's canonical big-endian form; kSecure: SHA-256). The fingerprint is SHA-256 over
//   domain string (u64 length + bytes: "graphcache.weights.v1/xxh3-128" or ".../sha-256"),
//   u64 chunk size, u64 slot count,
//   per slot in order: i64 dtype, u64 rank, i64 dims[rank], u64 byte length, its chunk digests in order
// with every integer 8 bytes little-endian. Chunks are independent, so any number of CPU threads or GPU
// threads computes the same chunk digests, and the ordered combine makes the result independent of
// scheduling: CPU and GPU give bit-identical fingerprints.
//
// Collision argument. The combine is SHA-256, so two different slot lists collide only if two chunk
// digests at the same position collide (or SHA-256 does). XXH3-128 is not cryptographic: by accident a
// collision among 2^30 chunks (1 PiB) has probability ~2^-69, but someone who chooses the bytes can craft
// one. In kFast mode the fingerprint only decides "skip the refit" for an entry whose structural key
// (cryptographic) already matched, so a crafted collision can at worst make a refit be skipped, and only
// for a party that can already put entries into the cache (which could store any engine under that key).
// When the fingerprint becomes part of a key shared across trust boundaries (non-refittable engines in a
// shared cache, weights supplied by others), use kSecure: SHA-256 per chunk, several times slower on CPU
// and not offered on the GPU. The mode is in the domain string, so digests of the two modes never match.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"
#include "graphcache/ir.hpp"

namespace graphcache {

inline constexpr uint64_t kFingerprintChunkBytes = uint64_t{1} << 20;

enum class FingerprintMode : uint8_t {
  kFast,    // XXH3-128 per chunk: memory bandwidth on CPU and GPU
  kSecure,  // SHA-256 per chunk: for fingerprints that key a cache shared across trust boundaries
};

// One weight slot to fingerprint. `data` says where the bytes are: kMemory (pointer + length, read in
// place) or kFile (path + offset + length, memory-mapped). `name` only appears in error messages.
struct WeightView {
  ir::DType dtype = ir::DType::kUndefined;
  std::vector<int64_t> dims;
  ir::WeightData data;
  std::string name;
};

// Called from the calling thread with (bytes hashed so far, total bytes), at most once per
// progress_interval_bytes and once at the end with done == total.
using FingerprintProgress = std::function<void(uint64_t bytes_done, uint64_t bytes_total)>;

struct FingerprintOptions {
  FingerprintMode mode = FingerprintMode::kFast;
  unsigned threads = 0;  // 0: std::thread::hardware_concurrency()
  FingerprintProgress progress;
  uint64_t progress_interval_bytes = uint64_t{256} << 20;
};

// Fingerprints slots in the given order. Throws Error(kInvalidArgument) for a slot without data or with
// a negative dim, Error(kIo) when a file cannot be opened/mapped, Error(kInvalidModel) when a file range
// lies outside its file. Files are mapped, not copied: a file truncated by another process while it is
// being hashed raises SIGBUS, as for any mmap reader.
Digest fingerprint_weights(const std::vector<WeightView>& slots, const FingerprintOptions& options = {});

// Fingerprints graph.weights in canonical order: weight_order = StructuralInfo::weight_order (key.hpp).
// Throws Error(kInvalidArgument) for an index out of range or a weight whose shape is not static.
Digest fingerprint_graph_weights(const ir::Graph& graph, const std::vector<uint32_t>& weight_order,
                                 const FingerprintOptions& options = {});

// --- Building blocks shared by the CPU and GPU implementations (and any other one) ---

// What the combine hashes about a slot besides its chunk digests.
struct SlotLayout {
  ir::DType dtype = ir::DType::kUndefined;
  std::vector<int64_t> dims;
  uint64_t length = 0;
};

inline uint64_t chunk_count(uint64_t length) {
  return (length + kFingerprintChunkBytes - 1) / kFingerprintChunkBytes;
}

// The chunk digest sizes of each mode: 16 (XXH3-128) or 32 (SHA-256) bytes.
size_t chunk_digest_size(FingerprintMode mode) noexcept;

// The chunk digest of `length` bytes at `data`, as the definition above says.
void hash_chunk(const void* data, uint64_t length, FingerprintMode mode, uint8_t* out_digest);

// The SHA-256 combine: `chunk_digests` holds, slot after slot, chunk_count(length) digests of
// chunk_digest_size(mode) bytes each. Throws Error(kInvalidArgument) when the sizes do not match.
Digest combine_chunk_digests(std::span<const SlotLayout> slots, std::span<const uint8_t> chunk_digests,
                             FingerprintMode mode);

// --- GPU (CUDA) ---

// One weight slot in device memory (a DLPack tensor with device_type kDLCUDA: pointer = data +
// byte_offset, contiguous, length = numel * element bytes).
struct DeviceWeightView {
  ir::DType dtype = ir::DType::kUndefined;
  std::vector<int64_t> dims;
  const void* device_pointer = nullptr;
  uint64_t length = 0;
};

struct DeviceFingerprintOptions {
  void* stream = nullptr;  // cudaStream_t to run on (ordered after the producer of the tensors)
};

// True when the library was built with CUDA and a CUDA device is visible.
bool cuda_fingerprint_available() noexcept;

// The kFast fingerprint of device tensors, computed in place on the current device; bit-identical to
// fingerprint_weights on the same bytes. Returns once the digest is on the host (it synchronizes
// `stream`). Throws Error(kUnsupported) when built without CUDA or no device is present,
// Error(kInvalidArgument) for host pointers, pointers on another device or a negative dim, and
// Error(kInternal) on CUDA errors.
Digest fingerprint_device_weights(const std::vector<DeviceWeightView>& slots,
                                  const DeviceFingerprintOptions& options = {});

}  // namespace graphcache
