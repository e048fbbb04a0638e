// Constants of the bundle format (include/graphcache/bundle.hpp describes the layout).
#pragma once

#include <cstdint>
#include <string_view>

namespace graphcache::store {

inline constexpr std::string_view kBundleMagic{"GCBUNDLE", 8};
inline constexpr std::string_view kBundleMemberTag{"GCBENTRY", 8};
inline constexpr std::string_view kBundleTrailerTag{"GCBTRAIL", 8};
inline constexpr std::string_view kBundleEndTag{"GCBEND\0\0", 8};
inline constexpr std::string_view kBundleSignatureDomain{"graphcache bundle signature v1\0", 31};
inline constexpr uint32_t kBundleVersion = 1;
// Bounds that keep a hostile trailer from costing memory: ~100 bytes of manifest per entry.
inline constexpr uint64_t kBundleMaxManifestBytes = 256ull << 20;
inline constexpr uint64_t kBundleMaxMembers = 2'000'000;
// The smallest trailer (no manifest entries, unsigned): tag, count, size, "{}" at least, digest, flag, end.
inline constexpr uint64_t kBundleMinTrailer = 8 + 8 + 8 + 2 + 32 + 1 + 8;

}  // namespace graphcache::store
