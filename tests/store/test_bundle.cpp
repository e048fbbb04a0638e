// Bundles with real files: round trip (signed, required), and hostile bundles - tampered payload,
// metadata or signature, wrong / revoked key, truncation at many offsets, member names that try to escape
// the cache directory, duplicate keys, a 2^40-byte claimed size. Each is a clear error and leaves the
// importing store exactly as it was (no entry, no staging folder).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "bundle_format.hpp"
#include "graphcache/bundle.hpp"
#include "graphcache/error.hpp"
#include "sha256.hpp"
#include "trust_test_util.hpp"

namespace graphcache {
namespace {

using namespace graphcache::testing;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Builds bundles by hand (unsigned, with a correct digest), so tests can forge any field an attacker
// controls while keeping the rest valid.
class BundleBuilder {
 public:
  BundleBuilder() {
    add(store::kBundleMagic);
    add_int<uint32_t>(1);
    add_int<uint32_t>(0);
  }
  void member(const std::string& name, const std::vector<uint8_t>& entry, uint64_t claimed = 0) {
    add(store::kBundleMemberTag);
    add(name);
    add_int<uint64_t>(claimed ? claimed : entry.size());
    bytes_.insert(bytes_.end(), entry.begin(), entry.end());
    manifest_.push_back({{"key", name}, {"bytes", entry.size()}});
  }
  std::vector<uint8_t> finish() {
    add(store::kBundleTrailerTag);
    add_int<uint64_t>(manifest_.size());
    const std::string m = nlohmann::json{{"format", 1}, {"entries", manifest_}}.dump();
    add_int<uint64_t>(m.size());
    add(m);
    const auto digest = store::Sha256::of(bytes_.data(), bytes_.size());
    bytes_.insert(bytes_.end(), digest.begin(), digest.end());
    bytes_.push_back(0);
    add(store::kBundleEndTag);
    return bytes_;
  }

 private:
  void add(std::string_view s) { bytes_.insert(bytes_.end(), s.begin(), s.end()); }
  template <typename T>
  void add_int(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes_.insert(bytes_.end(), b, b + sizeof(T));
  }
  std::vector<uint8_t> bytes_;
  nlohmann::json manifest_ = nlohmann::json::array();
};

class BundleTest : public TrustTest {
 protected:
  ScratchDir source_dir, target_dir, files;
  std::vector<Key> stored;

  void SetUp() override {
    LocalStore source(trust_config(source_dir.path(), ci.private_pem, {}, false));
    for (uint64_t i = 0; i < 3; ++i) {
      stored.push_back(testing::key_from_seed(i));
      put_bytes(source, stored.back(), make_payload(i, 50000 + i * 1000));
    }
  }
  std::string make_bundle(const std::string& signing_key, const std::string& name = "b.gcb") {
    LocalStore source(trust_config(source_dir.path(), signing_key, {}, false));
    EntryTrust trust(TrustConfig{signing_key, {}, false});
    create_bundle(source, {}, files / name, &trust);
    return files / name;
  }
  // Imports with `trust` settings; returns the error text ("" on success).
  std::string import(const std::string& bundle, std::vector<std::string> trusted = {}, bool require = false) {
    LocalStore target(trust_config(target_dir.path(), "", trusted, require));
    EntryTrust trust(target.config().trust);
    try {
      import_bundle(target, bundle, &trust);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  std::string entry_file(const Key& key) {
    return LocalStore(testing::test_config(source_dir.path())).entry_path(key);
  }
  // The importing store holds nothing at all: no entry, no staging folder, no temp file.
  void expect_target_untouched() {
    EXPECT_TRUE(LocalStore(testing::test_config(target_dir.path())).list().empty());
    for (const auto& e : std::filesystem::directory_iterator(target_dir.path()))
      EXPECT_EQ(e.path().filename(), "stats") << "left behind: " << e.path();
  }
};

TEST_F(BundleTest, SignedRoundTripIntoRequiringStore) {
  const std::string bundle = make_bundle(ci.private_pem);
  EXPECT_EQ(import(bundle, {ci.public_pem}, true), "");
  LocalStore target(trust_config(target_dir.path(), "", {ci.public_pem}, true));
  for (uint64_t i = 0; i < stored.size(); ++i) {
    std::optional<Entry> e = target.get(stored[i]);
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(testing::payload_is_intact(e->engine->data(), e->engine->size()));
  }
  EXPECT_EQ(target.stats().entries, 3u);
}

TEST_F(BundleTest, TamperedBytesAnywhereAreRefused) {
  const std::vector<uint8_t> good = read_file(make_bundle(ci.private_pem));
  // A byte in the header, in a member's payload, in the manifest, in the digest, in the signature.
  for (const size_t offset : {size_t{9}, size_t{2000}, size_t{40000}, good.size() - 200, good.size() - 120,
                              good.size() - 40, good.size() - 12}) {
    std::vector<uint8_t> bad = good;
    bad[offset] ^= 0x40;
    write_file(files / "bad.gcb", bad);
    EXPECT_NE(import(files / "bad.gcb"), "") << "offset " << offset;
    expect_target_untouched();
  }
}

TEST_F(BundleTest, TruncatedAtAnyPointIsRefused) {
  const std::vector<uint8_t> good = read_file(make_bundle(""));
  for (size_t cut = 0; cut < good.size(); cut += good.size() / 37 + 1) {
    write_file(files / "cut.gcb", std::vector<uint8_t>(good.begin(), good.begin() + cut));
    const std::string error = import(files / "cut.gcb");
    EXPECT_NE(error, "") << "cut at " << cut;
    expect_target_untouched();
  }
  write_file(files / "cut.gcb", std::vector<uint8_t>(good.begin(), good.end() - 1));
  EXPECT_NE(import(files / "cut.gcb").find("truncated"), std::string::npos);
}

TEST_F(BundleTest, WrongRevokedOrMissingBundleSignatureIsRefusedWhenRequired) {
  EXPECT_NE(import(make_bundle(other.private_pem), {ci.public_pem}, true).find("not a trusted key"),
            std::string::npos);
  expect_target_untouched();
  EXPECT_NE(import(make_bundle(""), {ci.public_pem}, true).find("not signed"), std::string::npos);
  expect_target_untouched();
}

TEST_F(BundleTest, EntryWithTamperedMetadataIsRefused) {
  // The attacker rebuilds a bundle (fresh digest, no bundle signature) around an entry whose metadata
  // changed but still carries the original signature.
  LocalStore attacker(testing::test_config(files / "attacker"));
  std::optional<Entry> genuine = LocalStore(testing::test_config(source_dir.path())).get(stored[0]);
  EntryMetadata swapped = genuine->metadata;
  swapped.extra["injected"] = "1";
  attacker.put(stored[0], EngineSource::from_memory(genuine->engine->data(), genuine->engine->size()),
               swapped);
  BundleBuilder b;
  b.member(stored[0].hex(), read_file(attacker.entry_path(stored[0])));
  write_file(files / "meta.gcb", b.finish());
  EXPECT_NE(import(files / "meta.gcb").find("bad signature"), std::string::npos);  // even without keys
  expect_target_untouched();
}

TEST_F(BundleTest, EntryWithSwappedEngineIsRefused) {
  // The genuine signed metadata over another engine, with checksums made to match: only the entry's
  // signature can tell.
  LocalStore attacker(testing::test_config(files / "attacker"));
  std::optional<Entry> genuine = LocalStore(testing::test_config(source_dir.path())).get(stored[0]);
  std::vector<uint8_t> engine(genuine->engine->data(), genuine->engine->data() + genuine->engine->size());
  engine[engine.size() / 2] ^= 1;
  put_bytes(attacker, stored[0], engine, genuine->metadata);
  BundleBuilder b;
  b.member(stored[0].hex(), read_file(attacker.entry_path(stored[0])));
  write_file(files / "engine.gcb", b.finish());
  EXPECT_NE(import(files / "engine.gcb").find("bad signature"), std::string::npos);
  expect_target_untouched();
  EXPECT_NE(import(files / "engine.gcb", {ci.public_pem}, true).find("bad signature"), std::string::npos);
  expect_target_untouched();
}

TEST_F(BundleTest, CompressedSignedEntriesRoundTrip) {
  // Compressed entries are hashed after decompression (the signed engine is not the stored payload).
  StoreConfig c = trust_config(source_dir.path(), ci.private_pem, {}, false);
  c.compress = true;
  const Key key = testing::key_from_seed(40);
  LocalStore compressing(c);
  put_bytes(compressing, key, std::vector<uint8_t>(300000, 7));
  EXPECT_EQ(import(make_bundle(ci.private_pem), {ci.public_pem}, true), "");
  std::optional<Entry> e = LocalStore(trust_config(target_dir.path(), "", {ci.public_pem}, true)).get(key);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->engine->size(), 300000u);
}

TEST_F(BundleTest, MemberNamesCannotEscapeTheCacheDirectory) {
  const std::vector<uint8_t> entry = read_file(entry_file(stored[0]));
  for (std::string name :
       std::vector<std::string>{"../../../../../../../../tmp/graphcache-escape", "/etc/passwd",
                                std::string("aa/bb/") + std::string(58, 'a'), std::string(63, 'a') + '\0'}) {
    name.resize(64, '/');
    BundleBuilder b;
    b.member(name, entry);
    write_file(files / "escape.gcb", b.finish());
    EXPECT_NE(import(files / "escape.gcb").find("is not a 64-hex-digit key"), std::string::npos) << name;
    expect_target_untouched();
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/graphcache-escape"));
}

TEST_F(BundleTest, MemberUnderAnotherKeyIsRefused) {
  BundleBuilder b;
  b.member(stored[1].hex(), read_file(entry_file(stored[0])));  // a valid entry under the wrong name
  write_file(files / "renamed.gcb", b.finish());
  EXPECT_NE(import(files / "renamed.gcb").find("misplaced"), std::string::npos);
  expect_target_untouched();
}

TEST_F(BundleTest, DuplicateKeysAreRefused) {
  const std::vector<uint8_t> entry = read_file(entry_file(stored[0]));
  BundleBuilder b;
  b.member(stored[0].hex(), entry);
  b.member(stored[0].hex(), entry);
  write_file(files / "dup.gcb", b.finish());
  EXPECT_NE(import(files / "dup.gcb").find("duplicate member"), std::string::npos);
  expect_target_untouched();
}

TEST_F(BundleTest, HugeClaimedSizeIsRefusedBeforeAnythingIsWritten) {
  const std::vector<uint8_t> entry = read_file(entry_file(stored[0]));
  BundleBuilder b;
  b.member(stored[0].hex(), entry, /*claimed=*/1ull << 40);
  write_file(files / "huge.gcb", b.finish());
  const std::string error = import(files / "huge.gcb");
  EXPECT_NE(error.find("claims 1099511627776 bytes"), std::string::npos) << error;
  expect_target_untouched();
}

TEST_F(BundleTest, EmptyAndGarbageInputs) {
  write_file(files / "empty.gcb", {});
  EXPECT_NE(import(files / "empty.gcb").find("truncated"), std::string::npos);
  write_file(files / "text.gcb", std::vector<uint8_t>(1000, 'x'));
  EXPECT_NE(import(files / "text.gcb").find("not a graphcache bundle"), std::string::npos);
  expect_target_untouched();
  write_file(files / "none.gcb", BundleBuilder().finish());
  EXPECT_EQ(import(files / "none.gcb"), "");  // a well-formed empty bundle imports nothing
}

TEST_F(BundleTest, SelectedKeysAndUnknownKey) {
  LocalStore source(testing::test_config(source_dir.path()));
  const BundleCreateReport r = create_bundle(source, {stored[1]}, files / "one.gcb", nullptr);
  EXPECT_EQ(r.entries, 1u);
  EXPECT_FALSE(r.signed_bundle);
  EXPECT_EQ(import(files / "one.gcb"), "");
  EXPECT_EQ(LocalStore(testing::test_config(target_dir.path())).list().size(), 1u);
  EXPECT_THROW(create_bundle(source, {testing::key_from_seed(77)}, files / "x.gcb", nullptr), Error);
  EXPECT_FALSE(std::filesystem::exists(files / "x.gcb"));
}

}  // namespace
}  // namespace graphcache
