// Key composition (key.hpp, key_metadata.hpp): keying an already-hashed graph, the typed refit mode and
// weight-fingerprint parts, the reserved setting names, graph facts, and an entry's metadata of a key.
#include <gtest/gtest.h>

#include <algorithm>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/key_metadata.hpp"
#include "key_test_graphs.hpp"

namespace graphcache {
namespace {

Digest some_fingerprint(uint8_t seed) {
  Digest d;
  d.bytes.fill(seed);
  return d;
}

TEST(KeyComposition, AHashedGraphKeysLikeTheGraph) {
  const ir::Graph g = test::mlp();
  KeyRequest request;
  request.settings = {{"precision", "fp16", true}};
  const HashedGraph hashed = hash_graph(g);
  EXPECT_EQ(compute_key(hashed, request).key, compute_key(g, request).key);
  request.refit_mode = RefitMode::kNone;
  request.weight_fingerprint = some_fingerprint(1);
  const Key bound = compute_key(hashed, request).key;
  EXPECT_EQ(bound, compute_key(g, request).key);
  request.weight_fingerprint = some_fingerprint(2);
  EXPECT_NE(compute_key(hashed, request).key, bound) << "other weights, other key";
  request.input_specs = {{5, {1}, {1}, {1}}};
  EXPECT_THROW(compute_key(hashed, request), Error) << "profiles are still checked against the inputs";
}

TEST(KeyComposition, RefitModeIsAKeyPartAndWeightBoundModesNeedTheFingerprint) {
  const HashedGraph hashed = hash_graph(test::mlp());
  std::vector<Key> keys{compute_key(hashed).key};
  for (RefitMode mode : {RefitMode::kRefittable, RefitMode::kRefitIdentical, RefitMode::kNone}) {
    EXPECT_EQ(parse_refit_mode(to_string(mode)), mode);
    KeyRequest request;
    request.refit_mode = mode;
    if (is_weight_bound(mode)) {
      EXPECT_THROW(compute_key(hashed, request), Error) << to_string(mode);
      request.weight_fingerprint = some_fingerprint(1);
    }
    keys.push_back(compute_key(hashed, request).key);
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::unique(keys.begin(), keys.end()), keys.end()) << "unset and each mode: four keys";
  EXPECT_THROW(parse_refit_mode("refit"), Error);
}

TEST(KeyComposition, ReservedNamesAreRefusedAsSettingsAndRequiredOfFacts) {
  const HashedGraph hashed = hash_graph(test::mlp());
  for (std::string_view name : reserved_setting_names()) {
    KeyRequest request;
    request.settings = {{std::string(name), "x", true}};
    try {
      compute_key(hashed, request);
      ADD_FAILURE() << name << " was accepted as a setting";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("reserved"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(is_reserved_setting_name("graphcache.weight_fingerprint"));
  EXPECT_FALSE(is_reserved_setting_name("precision"));
  ir::Graph g = test::mlp();
  g.facts.push_back({"not.reserved", "x"});
  EXPECT_THROW(compute_key(g), Error);
}

TEST(KeyComposition, GraphFactsAreKeyedAndExplained) {
  ir::Graph a = test::mlp(), b = test::mlp();
  a.facts.push_back({"graphcache.fx.output_tree", "(*,*)"});
  b.facts.push_back({"graphcache.fx.output_tree", "[*,*]"});
  EXPECT_EQ(compute_key(a).parts.structure, compute_key(b).parts.structure);
  EXPECT_NE(compute_key(a).key, compute_key(b).key);
  const std::vector<std::string> why = explain_difference(a, b);
  ASSERT_FALSE(why.empty());
  EXPECT_NE(why.front().find("graphcache.fx.output_tree"), std::string::npos) << why.front();
  // A fact keys exactly like a setting of that name would have (the encoding the keys had before).
  b.facts.front().value = "(*,*)";
  EXPECT_EQ(compute_key(a).key, compute_key(b).key);
  EXPECT_TRUE(explain_difference(a, b).empty());
}

TEST(KeyComposition, EntryMetadataRecordsTheKey) {
  const ir::Graph g = test::mlp();
  KeyRequest request;
  request.refit_mode = RefitMode::kRefitIdentical;
  request.weight_fingerprint = some_fingerprint(7);
  const KeyResult result = compute_key(g, request);
  const EntryMetadata m = entry_metadata(result, g);
  EXPECT_EQ(m.key_parts.at("structure"), result.parts.structure.hex());
  EXPECT_EQ(m.key_parts.size(), 4u);
  EXPECT_EQ(m.refit_mode, "refit_identical");
  EXPECT_EQ(m.weight_fingerprint, some_fingerprint(7));
  EXPECT_EQ(m.weight_slots, weight_slot_names(g, result.structure));
  EXPECT_EQ(m.weight_slots.size(), 3u);
  EXPECT_EQ(m.input_names, std::vector<std::string>{"x"});
}

}  // namespace
}  // namespace graphcache
