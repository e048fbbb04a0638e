// Helpers of the signing and bundle tests: real key files (graphcache keygen's function and the openssl
// command line), stores configured with them, and entries written by an "attacker" store without keys.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "graphcache/local_store.hpp"
#include "graphcache/signing.hpp"
#include "store_test_util.hpp"

namespace graphcache::testing {

struct KeyPair {
  std::string private_pem, public_pem;
};

inline KeyPair make_key_pair(const ScratchDir& dir, const std::string& name) {
  KeyPair k{dir / (name + ".pem"), dir / (name + ".pub.pem")};
  generate_key_pair(k.private_pem, k.public_pem);
  return k;
}

struct WarningLog {
  std::vector<std::string> messages;
  WarningSink sink() {
    return [this](const std::string& m) { messages.push_back(m); };
  }
  bool mentions(const std::string& text) const {
    for (const std::string& m : messages)
      if (m.find(text) != std::string::npos) return true;
    return false;
  }
};

inline StoreConfig trust_config(const std::string& dir, const std::string& signing_key,
                                std::vector<std::string> trusted, bool require) {
  StoreConfig c = test_config(dir);
  c.trust.signing_key = signing_key;
  c.trust.trusted_keys = std::move(trusted);
  c.trust.require_signature = require;
  return c;
}

inline void put_bytes(Store& store, const Key& key, const std::vector<uint8_t>& bytes, EntryMetadata m = {}) {
  store.put(key, EngineSource::from_memory(bytes.data(), bytes.size()), m);
}

// The key files every trust test works with: "ci", the signer readers trust, and "other", a stranger.
class TrustTest : public ::testing::Test {
 protected:
  ScratchDir keys;
  KeyPair ci = make_key_pair(keys, "ci"), other = make_key_pair(keys, "other");
};

}  // namespace graphcache::testing
