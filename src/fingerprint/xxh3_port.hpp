// A host + device port of XXH3-128 (xxHash 0.8, default secret, seed 0): the CUDA kernel cannot use
// xxhash.h (host-only, SIMD intrinsics). The long-input path is split by accumulator lane pair: lanes
// (2p, 2p+1) only ever exchange data with each other, so four threads can each run one pair over a
// whole chunk and merge at the end. The CPU build of this file is checked against libxxhash in
// tests/fingerprint/test_xxh3_port.cpp; production CPU hashing uses libxxhash itself.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define GC_HD __host__ __device__ __forceinline__
#else
#define GC_HD inline
#endif
#if defined(__CUDA_ARCH__)  // device pass only: g++ -Werror rejects unknown pragmas
#define GC_UNROLL _Pragma("unroll")
#else
#define GC_UNROLL
#endif

namespace graphcache::xxh3 {

struct Hash128 {
  uint64_t low = 0;
  uint64_t high = 0;
};

inline constexpr int kSecretSize = 192;
inline constexpr int kStripeLen = 64;
inline constexpr int kStripesPerBlock = (kSecretSize - kStripeLen) / 8;  // 16
inline constexpr int kBlockLen = kStripeLen * kStripesPerBlock;          // 1024
inline constexpr uint64_t kMidSizeMax = 240;

inline constexpr uint32_t kPrime32_1 = 0x9E3779B1U;
inline constexpr uint32_t kPrime32_2 = 0x85EBCA77U;
inline constexpr uint32_t kPrime32_3 = 0xC2B2AE3DU;
inline constexpr uint64_t kPrime64_1 = 0x9E3779B185EBCA87ULL;
inline constexpr uint64_t kPrime64_2 = 0xC2B2AE3D27D4EB4FULL;
inline constexpr uint64_t kPrime64_3 = 0x165667B19E3779F9ULL;
inline constexpr uint64_t kPrime64_4 = 0x85EBCA77C2B2AE63ULL;
inline constexpr uint64_t kPrime64_5 = 0x27D4EB2F165667C5ULL;

// XXH3_kSecret (xxhash.h, BSD-2-Clause). Device code gets a copy through a kernel parameter.
struct Secret {
  uint8_t bytes[kSecretSize];
};
inline constexpr Secret kDefaultSecret = {{
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
}};

// --- integer helpers (byte-wise little-endian reads: valid for any alignment, host or device) ---

GC_HD uint32_t read_le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
GC_HD uint64_t read_le64(const uint8_t* p) {
  return uint64_t{read_le32(p)} | (uint64_t{read_le32(p + 4)} << 32);
}
GC_HD uint32_t swap32(uint32_t x) {
  return ((x << 24) & 0xff000000U) | ((x << 8) & 0x00ff0000U) | ((x >> 8) & 0x0000ff00U) |
         ((x >> 24) & 0x000000ffU);
}
GC_HD uint64_t swap64(uint64_t x) {
  return (uint64_t{swap32(static_cast<uint32_t>(x))} << 32) | swap32(static_cast<uint32_t>(x >> 32));
}
GC_HD uint32_t rotl32(uint32_t x, int r) {
  return (x << r) | (x >> (32 - r));
}
GC_HD uint64_t rotl64(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}
GC_HD uint64_t xorshift64(uint64_t v, int shift) {
  return v ^ (v >> shift);
}
GC_HD uint64_t mult32to64(uint64_t a, uint64_t b) {
  return uint64_t{static_cast<uint32_t>(a)} * uint64_t{static_cast<uint32_t>(b)};
}
GC_HD Hash128 mult64to128(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
  return Hash128{a * b, __umul64hi(a, b)};
#else
  __extension__ using U128 = unsigned __int128;
  const U128 product = static_cast<U128>(a) * b;
  return Hash128{static_cast<uint64_t>(product), static_cast<uint64_t>(product >> 64)};
#endif
}
GC_HD uint64_t mul128_fold64(uint64_t a, uint64_t b) {
  const Hash128 p = mult64to128(a, b);
  return p.low ^ p.high;
}
GC_HD uint64_t xxh64_avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= kPrime64_2;
  h ^= h >> 29;
  h *= kPrime64_3;
  h ^= h >> 32;
  return h;
}
GC_HD uint64_t avalanche(uint64_t h) {
  h = xorshift64(h, 37);
  h *= 0x165667919E3779F9ULL;
  return xorshift64(h, 32);
}

// --- inputs of at most 240 bytes (XXH3_len_0to16_128b, _17to128_128b, _129to240_128b) ---

GC_HD Hash128 hash_0to16(const uint8_t* in, uint64_t len, const uint8_t* secret) {
  if (len > 8) {
    const uint64_t bitflipl = read_le64(secret + 32) ^ read_le64(secret + 40);
    const uint64_t bitfliph = read_le64(secret + 48) ^ read_le64(secret + 56);
    const uint64_t input_lo = read_le64(in);
    uint64_t input_hi = read_le64(in + len - 8);
    Hash128 m = mult64to128(input_lo ^ input_hi ^ bitflipl, kPrime64_1);
    m.low += (len - 1) << 54;
    input_hi ^= bitfliph;
    m.high += input_hi + mult32to64(static_cast<uint32_t>(input_hi), kPrime32_2 - 1);
    m.low ^= swap64(m.high);
    Hash128 h = mult64to128(m.low, kPrime64_2);
    h.high += m.high * kPrime64_2;
    return Hash128{avalanche(h.low), avalanche(h.high)};
  }
  if (len >= 4) {
    const uint32_t input_lo = read_le32(in);
    const uint32_t input_hi = read_le32(in + len - 4);
    const uint64_t input64 = input_lo + (uint64_t{input_hi} << 32);
    const uint64_t bitflip = read_le64(secret + 16) ^ read_le64(secret + 24);
    Hash128 m = mult64to128(input64 ^ bitflip, kPrime64_1 + (len << 2));
    m.high += m.low << 1;
    m.low ^= m.high >> 3;
    m.low = xorshift64(m.low, 35);
    m.low *= 0x9FB21C651E98DF25ULL;
    m.low = xorshift64(m.low, 28);
    m.high = avalanche(m.high);
    return m;
  }
  if (len > 0) {
    const uint8_t c1 = in[0], c2 = in[len >> 1], c3 = in[len - 1];
    const uint32_t combinedl =
        (uint32_t{c1} << 16) | (uint32_t{c2} << 24) | (uint32_t{c3} << 0) | (static_cast<uint32_t>(len) << 8);
    const uint32_t combinedh = rotl32(swap32(combinedl), 13);
    const uint64_t bitflipl = read_le32(secret) ^ read_le32(secret + 4);
    const uint64_t bitfliph = read_le32(secret + 8) ^ read_le32(secret + 12);
    return Hash128{xxh64_avalanche(combinedl ^ bitflipl), xxh64_avalanche(combinedh ^ bitfliph)};
  }
  return Hash128{xxh64_avalanche(read_le64(secret + 64) ^ read_le64(secret + 72)),
                 xxh64_avalanche(read_le64(secret + 80) ^ read_le64(secret + 88))};
}

GC_HD uint64_t mix16(const uint8_t* in, const uint8_t* secret) {
  return mul128_fold64(read_le64(in) ^ read_le64(secret), read_le64(in + 8) ^ read_le64(secret + 8));
}

GC_HD Hash128 mix32(Hash128 acc, const uint8_t* in1, const uint8_t* in2, const uint8_t* secret) {
  acc.low += mix16(in1, secret);
  acc.low ^= read_le64(in2) + read_le64(in2 + 8);
  acc.high += mix16(in2, secret + 16);
  acc.high ^= read_le64(in1) + read_le64(in1 + 8);
  return acc;
}

GC_HD Hash128 finish_midsize(Hash128 acc, uint64_t len) {
  const uint64_t low = acc.low + acc.high;
  const uint64_t high = acc.low * kPrime64_1 + acc.high * kPrime64_4 + len * kPrime64_2;
  return Hash128{avalanche(low), uint64_t{0} - avalanche(high)};
}

GC_HD Hash128 hash_17to128(const uint8_t* in, uint64_t len, const uint8_t* secret) {
  Hash128 acc{len * kPrime64_1, 0};
  if (len > 32) {
    if (len > 64) {
      if (len > 96) acc = mix32(acc, in + 48, in + len - 64, secret + 96);
      acc = mix32(acc, in + 32, in + len - 48, secret + 64);
    }
    acc = mix32(acc, in + 16, in + len - 32, secret + 32);
  }
  acc = mix32(acc, in, in + len - 16, secret);
  return finish_midsize(acc, len);
}

GC_HD Hash128 hash_129to240(const uint8_t* in, uint64_t len, const uint8_t* secret) {
  constexpr int kStartOffset = 3, kLastOffset = 17, kSecretSizeMin = 136;
  const int rounds = static_cast<int>(len / 32);
  Hash128 acc{len * kPrime64_1, 0};
  for (int i = 0; i < 4; ++i) acc = mix32(acc, in + 32 * i, in + 32 * i + 16, secret + 32 * i);
  acc = Hash128{avalanche(acc.low), avalanche(acc.high)};
  for (int i = 4; i < rounds; ++i) {
    acc = mix32(acc, in + 32 * i, in + 32 * i + 16, secret + kStartOffset + 32 * (i - 4));
  }
  acc = mix32(acc, in + len - 16, in + len - 32, secret + kSecretSizeMin - kLastOffset - 16);
  return finish_midsize(acc, len);
}

GC_HD Hash128 hash_short(const uint8_t* in, uint64_t len, const uint8_t* secret) {
  if (len <= 16) return hash_0to16(in, len, secret);
  if (len <= 128) return hash_17to128(in, len, secret);
  return hash_129to240(in, len, secret);
}

// --- inputs longer than 240 bytes, one accumulator lane pair at a time ---

// How the long path reads: `load16` reads input lanes 2p, 2p+1 of a stripe (16 bytes at a 16-byte
// multiple from the chunk start); `key64` reads the secret at a multiple of 8 bytes.
struct PortableLoad {
  GC_HD static void load16(const uint8_t* p, uint64_t& lo, uint64_t& hi) {
    lo = read_le64(p);
    hi = read_le64(p + 8);
  }
  GC_HD static uint64_t key64(const uint8_t* secret, int offset) { return read_le64(secret + offset); }
};

GC_HD uint64_t init_acc(int lane) {
  switch (lane) {
    case 0:
      return kPrime32_3;
    case 1:
      return kPrime64_1;
    case 2:
      return kPrime64_2;
    case 3:
      return kPrime64_3;
    case 4:
      return kPrime64_4;
    case 5:
      return kPrime32_2;
    case 6:
      return kPrime64_5;
    default:
      return kPrime32_1;
  }
}

// One stripe for lane pair (a0 = lane 2p, a1 = lane 2p+1): each lane's data is added to its neighbour.
GC_HD void accumulate_pair(uint64_t& a0, uint64_t& a1, uint64_t d0, uint64_t d1, uint64_t k0, uint64_t k1) {
  const uint64_t dk0 = d0 ^ k0, dk1 = d1 ^ k1;
  a1 += d0;
  a0 += mult32to64(dk0, dk0 >> 32);
  a0 += d1;
  a1 += mult32to64(dk1, dk1 >> 32);
}

GC_HD uint64_t scramble(uint64_t acc, uint64_t key) {
  acc = xorshift64(acc, 47);
  acc ^= key;
  return acc * kPrime32_1;
}

// Runs lane pair `pair` (0..3) of XXH3's long loop over `len` (> 240) bytes. Load::load16 reads every
// stripe but the last, which is read byte-wise (it may be unaligned).
template <typename Load>
GC_HD void long_pair(const uint8_t* in, uint64_t len, const uint8_t* secret, int pair, uint64_t& a0,
                     uint64_t& a1) {
  a0 = init_acc(2 * pair);
  a1 = init_acc(2 * pair + 1);
  const uint64_t blocks = (len - 1) / kBlockLen;
  const uint8_t* lanes = in + 16 * pair;
  const int key_base = 16 * pair;
  const uint64_t scramble_k0 = Load::key64(secret, kSecretSize - kStripeLen + key_base);
  const uint64_t scramble_k1 = Load::key64(secret, kSecretSize - kStripeLen + key_base + 8);
  for (uint64_t b = 0; b < blocks; ++b) {
    const uint8_t* block = lanes + b * kBlockLen;
    uint64_t d[2 * kStripesPerBlock];
    GC_UNROLL
    for (int s = 0; s < kStripesPerBlock; ++s) Load::load16(block + s * kStripeLen, d[2 * s], d[2 * s + 1]);
    GC_UNROLL
    for (int s = 0; s < kStripesPerBlock; ++s) {
      accumulate_pair(a0, a1, d[2 * s], d[2 * s + 1], Load::key64(secret, key_base + 8 * s),
                      Load::key64(secret, key_base + 8 * s + 8));
    }
    a0 = scramble(a0, scramble_k0);
    a1 = scramble(a1, scramble_k1);
  }
  const int stripes = static_cast<int>(((len - 1) - kBlockLen * blocks) / kStripeLen);
  const uint8_t* block = lanes + blocks * kBlockLen;
  for (int s = 0; s < stripes; ++s) {
    uint64_t d0, d1;
    Load::load16(block + s * kStripeLen, d0, d1);
    accumulate_pair(a0, a1, d0, d1, Load::key64(secret, key_base + 8 * s),
                    Load::key64(secret, key_base + 8 * s + 8));
  }
  constexpr int kLastAccStart = 7;
  const uint8_t* last = in + len - kStripeLen + 16 * pair;
  const uint8_t* last_key = secret + kSecretSize - kStripeLen - kLastAccStart + key_base;
  accumulate_pair(a0, a1, read_le64(last), read_le64(last + 8), read_le64(last_key), read_le64(last_key + 8));
}

GC_HD uint64_t merge_accs(const uint64_t acc[8], const uint8_t* secret, uint64_t start) {
  uint64_t result = start;
  for (int i = 0; i < 4; ++i) {
    result += mul128_fold64(acc[2 * i] ^ read_le64(secret + 16 * i),
                            acc[2 * i + 1] ^ read_le64(secret + 16 * i + 8));
  }
  return avalanche(result);
}

// The 128-bit result from the eight lanes after long_pair ran for pairs 0..3.
GC_HD Hash128 finish_long(const uint64_t acc[8], uint64_t len, const uint8_t* secret) {
  constexpr int kMergeAccsStart = 11;
  return Hash128{merge_accs(acc, secret + kMergeAccsStart, len * kPrime64_1),
                 merge_accs(acc, secret + kSecretSize - 64 - kMergeAccsStart, ~(len * kPrime64_2))};
}

// The whole hash, one thread (reference composition; the kernel spreads the pairs over four threads).
template <typename Load = PortableLoad>
GC_HD Hash128 hash128(const uint8_t* in, uint64_t len, const uint8_t* secret) {
  if (len <= kMidSizeMax) return hash_short(in, len, secret);
  uint64_t acc[8];
  for (int p = 0; p < 4; ++p) long_pair<Load>(in, len, secret, p, acc[2 * p], acc[2 * p + 1]);
  return finish_long(acc, len, secret);
}

// XXH128_canonicalFromHash: big-endian high then low.
GC_HD void to_canonical(Hash128 h, uint8_t out[16]) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(h.high >> (56 - 8 * i));
    out[8 + i] = static_cast<uint8_t>(h.low >> (56 - 8 * i));
  }
}

}  // namespace graphcache::xxh3
