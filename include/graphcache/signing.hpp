// Signed entries: Ed25519 (through OpenSSL's EVP API) so that a reader can tell an engine written by a
// trusted builder from one planted by whoever else can write the cache directory or the Redis instance.
//
// A writer with a signing key adds a signature to each entry's metadata (EntryMetadata::signature,
// "ed25519:<public key hex>:<signature hex>"). The signed message binds the entry key, the signer's
// public key, the SHA-256 of the metadata as serialized without the signature, and the SHA-256 and size
// of the engine bytes (uncompressed, so one signature holds in every tier): an entry replayed under
// another key, a signature moved to other metadata or another engine, or a signature re-attributed to
// another public key all fail.
//
// A reader with `require_signature` serves only entries whose signature verifies under one of its
// trusted public keys (several at once, for rotation; revoking a key = removing it from the list);
// anything else is a miss, counted in StoreStats::untrusted and reported through the warning sink.
// Keys are PEM files as `openssl genpkey -algorithm ed25519` and `graphcache keygen` write them.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graphcache/store.hpp"

namespace graphcache {

// Settings (StoreConfig::trust): config lines signing_key / trusted_keys / require_signature, environment
// GRAPHCACHE_SIGNING_KEY / GRAPHCACHE_TRUSTED_KEYS / GRAPHCACHE_REQUIRE_SIGNATURE, the matching flags.
struct TrustConfig {
  std::string signing_key;                // PEM private key; empty: entries are written unsigned
  std::vector<std::string> trusted_keys;  // PEM public (or private) key files, or folders of *.pem
  bool require_signature = false;         // serve only entries signed by a trusted key
};

using PublicKeyBytes = std::array<uint8_t, 32>;

std::string public_key_hex(const PublicKeyBytes& key);

// Writes a fresh Ed25519 key pair: `private_path` (PKCS#8 PEM, mode 0600, refused if it exists) and
// `public_path` (SubjectPublicKeyInfo PEM). Returns the public key. Throws Error(kIo / kInvalidArgument).
PublicKeyBytes generate_key_pair(const std::string& private_path, const std::string& public_path);

enum class SignatureStatus {
  kUnsigned,    // no signature
  kTrusted,     // verifies under a trusted key
  kUnknownKey,  // well-formed, but the signer is not trusted (or no keys are configured)
  kInvalid,     // malformed, or does not verify under the key it names (tampered or replayed)
};
const char* to_string(SignatureStatus status) noexcept;

struct SignatureCheck {
  SignatureStatus status = SignatureStatus::kUnsigned;
  std::string signer_hex;  // the public key the signature names, when it names one
};

// The keys of one store, loaded once (signing and verification then touch no files).
class EntryTrust {
 public:
  // Loads the keys. Throws Error(kInvalidArgument) naming the file for unreadable or non-Ed25519 keys, a
  // folder without keys, or require_signature without any trusted key.
  explicit EntryTrust(const TrustConfig& config);
  ~EntryTrust();
  EntryTrust(const EntryTrust&) = delete;
  EntryTrust& operator=(const EntryTrust&) = delete;

  bool signs() const;
  bool enforces() const;
  const std::vector<PublicKeyBytes>& trusted() const;

  // Signs `metadata` for `key` and the engine (hashed from memory or streamed from its file); sets
  // created_unix first when it is 0 (it is part of what is signed). No-op without a signing key.
  void sign(const Key& key, const EngineSource& engine, EntryMetadata& metadata) const;
  SignatureCheck check(const Key& key, const EntryMetadata& metadata, const uint8_t* engine,
                       uint64_t engine_size) const;
  // What a store does on read: true to serve. Without require_signature every entry is served.
  // Otherwise `why` says why not.
  bool admits(const Key& key, const Entry& entry, std::string& why) const;

  // The signer's public key, when there is one.
  std::optional<PublicKeyBytes> signer() const;
  // Ed25519 over `message` with the signing key / verification under `public_key`.
  std::array<uint8_t, 64> sign_bytes(const uint8_t* message, size_t size) const;
  static bool verify_bytes(const PublicKeyBytes& public_key, const uint8_t* message, size_t size,
                           const uint8_t* signature, size_t signature_size);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: nullptr when `config` asks for nothing (no signing key, no trusted keys).
std::shared_ptr<const EntryTrust> make_entry_trust(const TrustConfig& config);

}  // namespace graphcache
