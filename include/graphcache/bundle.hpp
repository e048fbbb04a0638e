// Portable cache bundles: the entries of a local store in one streamed file, to ship engines built in CI
// to a fleet or bake them into a container image.
//
// Format, version 1 (integers little-endian), written in one pass so `create` can stream to a pipe:
//   header   "GCBUNDLE"  u32 version (1)  u32 reserved (0)
//   member   "GCBENTRY"  64 bytes: the key in hex  u64 size N  N bytes: the entry file as the local store
//            keeps it (src/store/entry_format.hpp: checksummed, with its signature when signed)
//   ...      (one member per entry)
//   trailer  "GCBTRAIL"  u64 member count  u64 manifest size M  M bytes: manifest JSON
//            {"format":1,"created_unix":..,"entries":[{"key":hex,"bytes":N},..]}
//            32 bytes: SHA-256 of every byte before it
//            u8 signed (0/1) [32 bytes Ed25519 public key, 64 bytes signature over
//            "graphcache bundle signature v1\0" + that SHA-256]
//            "GCBEND\0\0"
// The bundle signature (made when a signing key is configured) vouches for the whole file; each entry
// keeps its own signature too, since readers check that one on every get.
//
// Import reads members one at a time into a staging folder inside the cache directory (memory stays
// bounded by one I/O buffer, plus one engine when a signature must be checked), checks every entry
// (checksums, key, signature when required) and the trailer (manifest, digest, bundle signature), and
// only then renames the entries into place. Any failure removes the staging folder: nothing of a bad
// bundle is ever visible. Member names are keys, validated before they become paths.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"

namespace graphcache {

class LocalStore;
class EntryTrust;

struct BundleCreateReport {
  uint64_t entries = 0, bytes = 0;  // bytes: the bundle file
  uint64_t unsigned_entries = 0;    // entries without a signature of their own
  bool signed_bundle = false;
};

// Writes `keys` of `store` (every entry when empty) to `out_path` ("-": stdout; else a temp file renamed
// into place). Signs the bundle when `trust` has a signing key. Throws Error(kInvalidArgument) for a key
// with no entry, Error(kIo) on I/O failure.
BundleCreateReport create_bundle(LocalStore& store, const std::vector<Key>& keys, const std::string& out_path,
                                 const EntryTrust* trust);

struct BundleImportReport {
  uint64_t entries = 0, bytes = 0;
  bool signed_bundle = false;
  std::string signer_hex;  // the bundle signer's public key, when signed
};

// Imports the bundle at `path` ("-": stdin) into `store`, all or nothing (see above). With a trust that
// enforces require_signature, every entry and the bundle must be signed by a trusted key. Throws
// Error(kCorrupt) naming the first problem (tampered, truncated, duplicate or escaping member, bad or
// untrusted signature), Error(kIo) on I/O failure; the store is then unchanged.
BundleImportReport import_bundle(LocalStore& store, const std::string& path, const EntryTrust* trust);

// The reader itself, over any byte source (the importer and the fuzz target): calls `on_member` for each
// member with its key and a reader of exactly `size` bytes, then checks the trailer. `remaining` is the
// number of bytes the source still holds, when known (a regular file), so a member claiming more is
// refused before anything is read. Throws Error(kCorrupt) on any malformed input.
struct BundleSource {
  std::function<size_t(uint8_t*, size_t)> read;  // like read(2): 0 at end; throws on error
  std::optional<uint64_t> size;                  // total bytes, when known
};
using MemberReader = std::function<size_t(uint8_t*, size_t)>;  // 0 once the member is consumed
struct BundleTrailer {
  uint64_t count = 0;
  std::vector<std::pair<Key, uint64_t>> manifest;
  bool signed_bundle = false;
  std::string signer_hex;
};
BundleTrailer read_bundle(
    BundleSource& source, const EntryTrust* trust,
    const std::function<void(const Key&, uint64_t size, const MemberReader&)>& on_member);

}  // namespace graphcache
