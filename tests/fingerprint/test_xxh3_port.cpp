// The host build of the device XXH3-128 port equals libxxhash for every input length class.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>
#include <vector>

#include "xxh3_port.hpp"

namespace graphcache::xxh3 {
namespace {

std::vector<uint8_t> random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::vector<uint8_t> bytes(size);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(generator());
  return bytes;
}

void expect_same(const uint8_t* data, size_t length) {
  const Hash128 port = hash128(data, length, kDefaultSecret.bytes);
  const XXH128_hash_t library = XXH3_128bits(data, length);
  ASSERT_EQ(port.low, library.low64) << "length " << length;
  ASSERT_EQ(port.high, library.high64) << "length " << length;
}

TEST(Xxh3Port, EqualsLibxxhashForEveryShortAndMidLength) {
  const auto bytes = random_bytes(8192, 1);
  for (size_t length = 0; length <= 4100; ++length) expect_same(bytes.data() + length % 13, length);
}

TEST(Xxh3Port, EqualsLibxxhashAroundBlockAndChunkBoundaries) {
  const auto bytes = random_bytes((3u << 20) + 64, 2);
  for (size_t base : {size_t{1024}, size_t{1} << 20, size_t{3} << 20}) {
    for (size_t length = base - 65; length <= base + 65 && length <= (3u << 20); ++length) {
      expect_same(bytes.data() + 3, length);
    }
  }
}

TEST(Xxh3Port, LanePairsCombineToTheWholeHash) {
  const auto bytes = random_bytes(1u << 20, 3);
  uint64_t acc[8];
  for (int pair = 0; pair < 4; ++pair) {
    long_pair<PortableLoad>(bytes.data(), bytes.size(), kDefaultSecret.bytes, pair, acc[2 * pair],
                            acc[2 * pair + 1]);
  }
  const Hash128 split = finish_long(acc, bytes.size(), kDefaultSecret.bytes);
  const XXH128_hash_t library = XXH3_128bits(bytes.data(), bytes.size());
  EXPECT_EQ(split.low, library.low64);
  EXPECT_EQ(split.high, library.high64);
}

TEST(Xxh3Port, CanonicalFormMatchesLibxxhash) {
  const auto bytes = random_bytes(1000, 4);
  uint8_t ours[16];
  to_canonical(hash128(bytes.data(), bytes.size(), kDefaultSecret.bytes), ours);
  XXH128_canonical_t theirs;
  XXH128_canonicalFromHash(&theirs, XXH3_128bits(bytes.data(), bytes.size()));
  EXPECT_EQ(0, std::memcmp(ours, theirs.digest, 16));
}

}  // namespace
}  // namespace graphcache::xxh3
