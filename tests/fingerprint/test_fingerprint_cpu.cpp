// CPU fingerprint against the plain reference: odd sizes, several slots, thread counts, modes, what
// must change it, progress reports and errors.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"
#include "reference_fingerprint.hpp"

namespace graphcache {
namespace {

using testing::reference_fingerprint;
using testing::ReferenceSlot;

constexpr uint64_t kChunk = kFingerprintChunkBytes;

std::vector<uint8_t> random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::vector<uint8_t> bytes(size);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(generator());
  return bytes;
}

WeightView memory_view(const std::vector<uint8_t>& bytes, ir::DType dtype = ir::DType::kUInt8,
                       std::vector<int64_t> dims = {}) {
  if (dims.empty()) dims = {static_cast<int64_t>(bytes.size())};
  WeightView view{dtype, std::move(dims), {}, "w"};
  view.data.source = ir::WeightData::Source::kMemory;
  view.data.pointer = bytes.data();
  view.data.length = bytes.size();
  return view;
}

ReferenceSlot reference_slot(const WeightView& view) {
  const auto* base = static_cast<const uint8_t*>(view.data.pointer);
  return ReferenceSlot{
      view.dtype, view.dims, view.data.length,
      [base](uint64_t offset, uint64_t size, uint8_t* out) { std::memcpy(out, base + offset, size); }};
}

Digest fingerprint_with_threads(const std::vector<WeightView>& views, unsigned threads,
                                FingerprintMode mode = FingerprintMode::kFast) {
  FingerprintOptions options;
  options.threads = threads;
  options.mode = mode;
  return fingerprint_weights(views, options);
}

class OddSizes : public ::testing::TestWithParam<uint64_t> {};

TEST_P(OddSizes, EqualsReferenceForEveryThreadCountAndMode) {
  const auto bytes = random_bytes(GetParam(), GetParam() + 7);
  const std::vector<WeightView> views{memory_view(bytes)};
  for (FingerprintMode mode : {FingerprintMode::kFast, FingerprintMode::kSecure}) {
    const Digest expected = reference_fingerprint({reference_slot(views[0])}, mode);
    for (unsigned threads : {1u, 2u, 8u}) {
      EXPECT_EQ(fingerprint_with_threads(views, threads, mode), expected) << "threads " << threads;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, OddSizes,
                         ::testing::Values(0, 1, 15, 16, 17, 240, 241, kChunk - 1, kChunk, kChunk + 1,
                                           5 * kChunk + 12345));

TEST(FingerprintCpu, ManySlotsEqualReferenceWithAnyThreadCount) {
  std::vector<std::vector<uint8_t>> buffers;
  const uint64_t sizes[] = {3 * kChunk + 1, 0, 1, 4096, kChunk - 1, 2 * kChunk, 77};
  for (size_t i = 0; i < std::size(sizes); ++i) buffers.push_back(random_bytes(sizes[i], 100 + i));
  std::vector<WeightView> views;
  std::vector<ReferenceSlot> reference;
  for (const auto& buffer : buffers) {
    views.push_back(memory_view(buffer, ir::DType::kFloat16, {static_cast<int64_t>(buffer.size()), 1}));
    reference.push_back(reference_slot(views.back()));
  }
  const Digest expected = reference_fingerprint(reference);
  for (unsigned threads : {1u, 2u, 3u, 8u, 64u})
    EXPECT_EQ(fingerprint_with_threads(views, threads), expected);
  EXPECT_EQ(fingerprint_weights(views), expected);  // hardware_concurrency threads
}

TEST(FingerprintCpu, OrderDtypeShapeAndBytesChangeIt) {
  const auto a = random_bytes(kChunk + 3, 1), b = random_bytes(1000, 2);
  const Digest base = fingerprint_weights({memory_view(a), memory_view(b)});
  EXPECT_NE(base, fingerprint_weights({memory_view(b), memory_view(a)}));
  EXPECT_NE(base, fingerprint_weights({memory_view(a, ir::DType::kInt8), memory_view(b)}));
  EXPECT_NE(base, fingerprint_weights({memory_view(a), memory_view(b, ir::DType::kUInt8, {10, 100})}));
  EXPECT_NE(base, fingerprint_weights({memory_view(a), memory_view(b, ir::DType::kUInt8, {1000, 1})}));
  EXPECT_NE(base, fingerprint_weights({memory_view(a)}));
  auto flipped = a;
  flipped[kChunk + 2] ^= 0x01;  // last byte, in the short tail chunk
  EXPECT_NE(base, fingerprint_weights({memory_view(flipped), memory_view(b)}));
  // Moving the slot boundary keeps the concatenated bytes but must change the fingerprint.
  std::vector<uint8_t> joined(a);
  joined.insert(joined.end(), b.begin(), b.end());
  const std::vector<uint8_t> head(joined.begin(), joined.begin() + 10),
      tail(joined.begin() + 10, joined.end());
  EXPECT_NE(fingerprint_weights({memory_view(joined)}),
            fingerprint_weights({memory_view(head), memory_view(tail)}));
  // Same bytes and layout from another buffer: same fingerprint.
  const auto a_copy = a, b_copy = b;
  EXPECT_EQ(base, fingerprint_weights({memory_view(a_copy), memory_view(b_copy)}));
}

TEST(FingerprintCpu, SecureAndFastModesNeverAgree) {
  const auto bytes = random_bytes(100, 5);
  EXPECT_NE(fingerprint_with_threads({memory_view(bytes)}, 1, FingerprintMode::kFast),
            fingerprint_with_threads({memory_view(bytes)}, 1, FingerprintMode::kSecure));
  EXPECT_NE(fingerprint_with_threads({}, 1, FingerprintMode::kFast),
            fingerprint_with_threads({}, 1, FingerprintMode::kSecure));
}

TEST(FingerprintCpu, ProgressIsMonotoneAndEndsAtTotal) {
  const auto bytes = random_bytes(9 * kChunk + 5, 6);
  for (unsigned threads : {1u, 4u}) {
    std::vector<std::pair<uint64_t, uint64_t>> reports;
    FingerprintOptions options;
    options.threads = threads;
    options.progress_interval_bytes = 2 * kChunk;
    options.progress = [&](uint64_t done, uint64_t total) { reports.emplace_back(done, total); };
    fingerprint_weights({memory_view(bytes)}, options);
    // The calling thread reports as it finishes its own chunks: with helpers it may finish none early.
    ASSERT_GE(reports.size(), threads == 1 ? 5u : 1u);
    for (size_t i = 1; i < reports.size(); ++i) EXPECT_LE(reports[i - 1].first, reports[i].first);
    EXPECT_EQ(reports.back(), std::make_pair(uint64_t{bytes.size()}, uint64_t{bytes.size()}));
  }
}

ErrorKind error_kind_of(const std::vector<WeightView>& views) {
  try {
    fingerprint_weights(views);
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()), "");
    return error.kind();
  }
  ADD_FAILURE() << "no error thrown";
  return ErrorKind::kInternal;
}

TEST(FingerprintCpu, BadSlotsThrowClearErrors) {
  WeightView no_data{ir::DType::kFloat32, {4}, {}, "no_data"};
  EXPECT_EQ(error_kind_of({no_data}), ErrorKind::kInvalidArgument);

  const auto bytes = random_bytes(16, 7);
  EXPECT_EQ(error_kind_of({memory_view(bytes, ir::DType::kFloat32, {-1})}), ErrorKind::kInvalidArgument);
  WeightView null_pointer = memory_view(bytes);
  null_pointer.data.pointer = nullptr;
  EXPECT_EQ(error_kind_of({null_pointer}), ErrorKind::kInvalidArgument);

  WeightView missing{ir::DType::kFloat32, {4}, {}, "missing"};
  missing.data.source = ir::WeightData::Source::kFile;
  missing.data.path = "/nonexistent/graphcache/weights.bin";
  missing.data.length = 16;
  EXPECT_EQ(error_kind_of({missing}), ErrorKind::kIo);
}

TEST(FingerprintCpu, DeviceApiIsUnsupportedWithoutAGpu) {
  if (cuda_fingerprint_available()) GTEST_SKIP() << "a CUDA device is present; see test_fingerprint_cuda";
  try {
    fingerprint_device_weights({});
    FAIL() << "no error thrown";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUnsupported);
  }
}

TEST(FingerprintCpu, CombineRejectsDigestCountMismatch) {
  const std::vector<SlotLayout> slots{{ir::DType::kFloat32, {2}, kChunk + 1}};  // needs two digests
  const std::vector<uint8_t> one_digest(16);
  EXPECT_THROW(combine_chunk_digests(slots, one_digest, FingerprintMode::kFast), Error);
}

}  // namespace
}  // namespace graphcache
