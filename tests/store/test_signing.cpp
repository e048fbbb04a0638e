// Signed entries in the local tier, with real key files: trusted entries are served, everything else
// (unsigned, other signer, revoked signer, tampered payload / metadata / signature, replay under another
// key) is a counted, reported miss when require_signature is on. Also key loading and configuration.
#include <gtest/gtest.h>

#include <fstream>

#include "graphcache/error.hpp"
#include "graphcache/store_config.hpp"
#include "trust_test_util.hpp"

namespace graphcache {
namespace {

using namespace graphcache::testing;

class SigningTest : public TrustTest {
 protected:
  ScratchDir cache;
  const std::vector<uint8_t> engine = make_payload(7, 100000);
  const Key key = testing::key_from_seed(1);
  WarningLog log;

  LocalStore writer(const KeyPair& signer, bool compress = false) {
    StoreConfig c = trust_config(cache.path(), signer.private_pem, {}, false);
    c.compress = compress;
    return LocalStore(c);
  }
  LocalStore reader(std::vector<std::string> trusted) {
    return LocalStore(trust_config(cache.path(), "", std::move(trusted), true), log.sink());
  }
  LocalStore attacker() { return LocalStore(testing::test_config(cache.path())); }
};

TEST_F(SigningTest, TrustedReaderServesSignedEntry) {
  EntryMetadata m;
  m.extra["compiler"] = "trtexec";
  {
    LocalStore w = writer(ci);
    put_bytes(w, key, engine, m);
  }
  LocalStore r = reader({ci.public_pem});
  std::optional<Entry> e = r.get(key);
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->engine->size(), engine.size());
  EXPECT_EQ(0, std::memcmp(e->engine->data(), engine.data(), engine.size()));
  EXPECT_TRUE(e->metadata.signature.starts_with("ed25519:"));
  EXPECT_EQ(e->metadata.extra.at("compiler"), "trtexec");
  EXPECT_EQ(r.stats().untrusted, 0u);
  EXPECT_EQ(r.stats().hits, 1u);
}

TEST_F(SigningTest, CompressedSignedEntryVerifies) {
  {
    LocalStore w = writer(ci, /*compress=*/true);
    put_bytes(w, key, engine);
  }
  LocalStore r = reader({ci.public_pem});
  EXPECT_TRUE(r.get(key).has_value());
}

TEST_F(SigningTest, UnsignedEntryIsCountedMissWhenRequired) {
  {
    LocalStore a = attacker();
    put_bytes(a, key, engine);
  }
  LocalStore r = reader({ci.public_pem});
  EXPECT_FALSE(r.get(key).has_value());
  EXPECT_EQ(r.stats().untrusted, 1u);
  EXPECT_EQ(r.stats().misses, 1u);
  EXPECT_TRUE(log.mentions("refused: unsigned"));
  // Kept: a reader that does not require signatures still gets it.
  LocalStore plain = attacker();
  EXPECT_TRUE(plain.get(key).has_value());
}

TEST_F(SigningTest, OtherSignerIsMissAndRotationAcceptsBoth) {
  const Key key2 = testing::key_from_seed(2);
  {
    LocalStore w1 = writer(ci);
    put_bytes(w1, key, engine);
    LocalStore w2 = writer(other);
    put_bytes(w2, key2, engine);
  }
  {
    LocalStore only_ci = reader({ci.public_pem});
    EXPECT_TRUE(only_ci.get(key).has_value());
    EXPECT_FALSE(only_ci.get(key2).has_value());
    EXPECT_TRUE(log.mentions("not trusted"));
  }
  LocalStore both = reader({ci.public_pem, other.public_pem});  // rotation: old and new key at once
  EXPECT_TRUE(both.get(key).has_value());
  EXPECT_TRUE(both.get(key2).has_value());
  // Revoking `other` (dropping it from the list) makes its entries misses again.
  LocalStore revoked = reader({ci.public_pem});
  EXPECT_FALSE(revoked.get(key2).has_value());
}

TEST_F(SigningTest, FolderOfTrustedKeys) {
  ScratchDir folder;
  std::filesystem::copy_file(ci.public_pem, folder / "ci.pem");
  std::filesystem::copy_file(other.public_pem, folder / "other.pem");
  {
    LocalStore w = writer(other);
    put_bytes(w, key, engine);
  }
  LocalStore r = reader({folder.path()});
  EXPECT_TRUE(r.get(key).has_value());
}

// An attacker copies a signed entry's metadata (signature included) onto other bytes, other metadata or
// another key, with a store that has no keys (so the copied signature is kept as is).
TEST_F(SigningTest, TamperedPayloadMetadataOrReplayedKeyIsRefused) {
  EntryMetadata m;
  m.extra["a"] = "1";
  {
    LocalStore w = writer(ci);
    put_bytes(w, key, engine, m);
  }
  const EntryMetadata signed_meta = attacker().get(key)->metadata;
  LocalStore r = reader({ci.public_pem});
  ASSERT_TRUE(r.get(key).has_value());

  LocalStore a = attacker();
  std::vector<uint8_t> evil = engine;
  evil[5000] ^= 1;
  put_bytes(a, key, evil, signed_meta);  // other payload, same signature
  EXPECT_FALSE(r.get(key).has_value());

  EntryMetadata swapped = signed_meta;
  swapped.extra["a"] = "2";
  put_bytes(a, key, engine, swapped);  // same payload, other metadata
  EXPECT_FALSE(r.get(key).has_value());

  const Key replay = testing::key_from_seed(99);
  put_bytes(a, replay, engine, signed_meta);  // the whole signed entry under another key
  EXPECT_FALSE(r.get(replay).has_value());

  EntryMetadata bad_sig = signed_meta;
  bad_sig.signature[bad_sig.signature.size() - 3] ^= 1;  // a flipped signature digit
  put_bytes(a, key, engine, bad_sig);
  EXPECT_FALSE(r.get(key).has_value());

  EntryMetadata other_signer = signed_meta;  // the signature re-attributed to another public key
  const std::string other_hex =
      public_key_hex(*EntryTrust(TrustConfig{other.private_pem, {}, false}).signer());
  other_signer.signature.replace(8, 64, other_hex);
  put_bytes(a, key, engine, other_signer);
  EXPECT_FALSE(r.get(key).has_value());

  EXPECT_EQ(r.stats().untrusted, 5u);
  EXPECT_TRUE(log.mentions("bad signature"));

  put_bytes(a, key, engine, signed_meta);  // the genuine entry again
  EXPECT_TRUE(r.get(key).has_value());
}

TEST_F(SigningTest, VerifyReportsSignatureStatus) {
  {
    LocalStore w = writer(ci);
    put_bytes(w, testing::key_from_seed(1), engine);
    LocalStore w2 = writer(other);
    put_bytes(w2, testing::key_from_seed(2), engine);
    LocalStore a = attacker();
    put_bytes(a, testing::key_from_seed(3), engine);
  }
  LocalStore r(trust_config(cache.path(), "", {ci.public_pem}, false));
  VerifyReport report = r.verify();
  EXPECT_EQ(report.ok, 3u);
  EXPECT_EQ(report.signed_trusted, 1u);
  EXPECT_EQ(report.signed_unknown_key, 1u);
  EXPECT_EQ(report.unsigned_entries, 1u);
  LocalStore strict = reader({ci.public_pem});
  report = strict.verify();
  EXPECT_EQ(report.ok, 1u);
  EXPECT_EQ(report.untrusted, 2u);
  EXPECT_EQ(report.corrupt, 0u);
  EXPECT_EQ(report.entries, 3u);  // refused entries are kept
}

TEST_F(SigningTest, OpensslGeneratedKeysWork) {
  const std::string priv = keys / "openssl.pem", pub = keys / "openssl.pub.pem";
  ASSERT_EQ(0, std::system(("openssl genpkey -algorithm ed25519 -out " + priv + " 2>/dev/null").c_str()));
  ASSERT_EQ(0, std::system(("openssl pkey -in " + priv + " -pubout -out " + pub).c_str()));
  {
    LocalStore w(trust_config(cache.path(), priv, {}, false));
    put_bytes(w, key, engine);
  }
  LocalStore r = reader({pub});
  EXPECT_TRUE(r.get(key).has_value());
  // A private key file is accepted as a trusted key (its public half is used).
  LocalStore r2 = reader({priv});
  EXPECT_TRUE(r2.get(key).has_value());
}

TEST_F(SigningTest, BadKeyFilesAreClearErrors) {
  const std::string ec = keys / "ec.pem", junk = keys / "junk.pem";
  ASSERT_EQ(0, std::system(("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + ec +
                            " 2>/dev/null")
                               .c_str()));
  std::ofstream(junk) << "not a key\n";
  auto message = [](const TrustConfig& t) {
    try {
      EntryTrust trust(t);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({ec, {}, false}).find("not an Ed25519 key"), std::string::npos);
  EXPECT_NE(message({"", {junk}, false}).find("not a PEM"), std::string::npos);
  EXPECT_NE(message({"", {keys / "missing.pem"}, false}).find("missing.pem"), std::string::npos);
  EXPECT_NE(message({"", {}, true}).find("no trusted key"), std::string::npos);
  EXPECT_NE(message({ci.public_pem, {}, false}).find("not a PEM private key"), std::string::npos);
  ScratchDir empty;
  EXPECT_NE(message({"", {empty.path()}, false}).find("no *.pem"), std::string::npos);
  EXPECT_THROW(generate_key_pair(ci.private_pem, keys / "x.pub.pem"), Error);  // never overwrites a key
}

TEST_F(SigningTest, ConfigPrecedenceForTrustSettings) {
  const std::string file = keys / "graphcache.conf";
  std::ofstream(file) << "signing_key = " << other.private_pem << "\ntrusted_keys = " << other.public_pem
                      << "\nrequire_signature = off\n";
  std::map<std::string, std::string> env{{"GRAPHCACHE_CONFIG", file}, {"HOME", keys.path()}};
  StoreConfig c = resolve_store_config({}, &env);
  EXPECT_EQ(c.trust.signing_key, other.private_pem);
  EXPECT_EQ(c.trust.trusted_keys, std::vector<std::string>{other.public_pem});
  EXPECT_FALSE(c.trust.require_signature);

  env["GRAPHCACHE_SIGNING_KEY"] = ci.private_pem;
  env["GRAPHCACHE_TRUSTED_KEYS"] = ci.public_pem + ":" + other.public_pem;
  env["GRAPHCACHE_REQUIRE_SIGNATURE"] = "yes";
  c = resolve_store_config({}, &env);
  EXPECT_EQ(c.trust.signing_key, ci.private_pem);
  EXPECT_EQ(c.trust.trusted_keys, (std::vector<std::string>{ci.public_pem, other.public_pem}));
  EXPECT_TRUE(c.trust.require_signature);

  StoreConfigOverrides flags;
  flags.trusted_keys = other.public_pem;
  flags.require_signature = "off";
  c = resolve_store_config(flags, &env);
  EXPECT_EQ(c.trust.trusted_keys, std::vector<std::string>{other.public_pem});
  EXPECT_FALSE(c.trust.require_signature);

  env["GRAPHCACHE_REQUIRE_SIGNATURE"] = "maybe";
  try {
    resolve_store_config({}, &env);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("GRAPHCACHE_REQUIRE_SIGNATURE"), std::string::npos);
  }
}

}  // namespace
}  // namespace graphcache
