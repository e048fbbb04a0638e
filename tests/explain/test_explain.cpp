// explain_miss over real stores: each explanation kind against the local tier and a real redis-server,
// a corrupt summary (no explanation, no crash) and a damaged index file (rebuilt from the entries).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "explain_index.hpp"
#include "graphcache/explain.hpp"
#include "graphcache/local_store.hpp"
#include "graphcache/redis_store.hpp"
#include "redis_server.hpp"

namespace graphcache {
namespace {

using ir::DType;
using ir::TensorType;

struct Variant {
  std::string op = "Relu";
  double alpha = 0.5;
  bool swap = false;
  int depth = 6;
};

// x -> Gemm(x, w) -> LeakyRelu(alpha) -> [depth x Add(.., b)] -> op -> Sub(.., x) (or Sub(x, ..) swapped)
ir::Graph model(const Variant& v = {}) {
  ir::GraphBuilder b;
  auto x = b.input("x", TensorType::of(DType::kFloat32, {4, 8}));
  auto w = b.weight("w", TensorType::of(DType::kFloat32, {8, 8}));
  auto bias = b.weight("b", TensorType::of(DType::kFloat32, {8}));
  auto h = b.op("Gemm", {x, w});
  h = b.op("LeakyRelu", {h}, {{"alpha", v.alpha}});
  for (int i = 0; i < v.depth; ++i) h = b.op("Add", {h, bias}, {{"step", int64_t{i}}});
  h = b.op(v.op, {h});
  h = v.swap ? b.op("Sub", {x, h}) : b.op("Sub", {h, x});
  b.output(h, "y");
  return std::move(b).build();
}

ir::Graph unrelated() {
  ir::GraphBuilder b;
  auto x = b.input("a", TensorType::of(DType::kInt64, {3}));
  b.output(b.op("Neg", {b.op("Abs", {x})}), "out");
  return std::move(b).build();
}

KeyRequest request(std::string precision = "fp16", std::string trt = "10.3", std::string refit = "refittable",
                   int64_t max_batch = 32) {
  KeyRequest r;
  r.settings = {{"precision", precision, true}};
  r.refit_mode = parse_refit_mode(refit);
  if (is_weight_bound(*r.refit_mode)) r.weight_fingerprint = Digest{};  // keyed by weight-bound modes
  r.toolchain = {{"tensorrt", trt}};
  r.input_specs = {{0, {1, 8}, {4, 8}, {max_batch, 8}}};
  return r;
}

void put(Store& store, const ir::Graph& g, const KeyRequest& r) {
  const KeyResult k = compute_key(g, r);
  EntryMetadata m;
  for (auto& [name, value] : explain_fields(g, r, k, "model.onnx")) m.extra[name] = value;
  const std::string engine = "engine";
  store.put(k.key, EngineSource::from_memory(engine.data(), engine.size()), m);
}

// The one difference of the nearest candidate.
ExplainDifference only_difference(const Explanation& e) {
  EXPECT_FALSE(e.candidates.empty());
  if (e.candidates.empty()) return {};
  EXPECT_EQ(e.candidates[0].differences.size(), 1u) << e.candidates[0].differences.at(0).text;
  return e.candidates[0].differences.at(0);
}

class ExplainTest : public ::testing::TestWithParam<bool> {  // param: over Redis (else local)
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gc_explain_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    if (GetParam()) {
      redis_ = std::make_unique<testing::RedisServer>();
      store_ = std::make_unique<RedisStore>(redis_->config("ex:"));
      sources_.remote = redis_->config("ex:");
    } else {
      StoreConfig c;
      c.cache_dir = dir_.string();
      c.fsync = false;
      store_ = std::make_unique<LocalStore>(c);
      sources_.cache_dir = dir_.string();
    }
    put(*store_, model(), request());
  }
  void TearDown() override {
    store_.reset();
    redis_.reset();
    std::filesystem::remove_all(dir_);
  }
  Explanation explain(const ir::Graph& g, const KeyRequest& r) { return explain_miss(g, r, sources_); }

  std::filesystem::path dir_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<Store> store_;
  ExplainSources sources_;
};

TEST_P(ExplainTest, Hit) {
  const Explanation e = explain(model(), request());
  EXPECT_EQ(e.result, "hit");
  EXPECT_EQ(e.lines().at(0).rfind("hit: ", 0), 0u);
}

TEST_P(ExplainTest, Setting) {
  const Explanation e = explain(model(), request("fp32"));
  EXPECT_EQ(e.result, "same_structure");
  const auto d = only_difference(e);
  EXPECT_EQ(d.kind, "setting");
  EXPECT_EQ(d.name, "precision");
  EXPECT_EQ(d.cached, "fp16");
  EXPECT_EQ(d.current, "fp32");
  EXPECT_EQ(e.candidates[0].model, "model.onnx");
}

TEST_P(ExplainTest, Toolchain) {
  const auto d = only_difference(explain(model(), request("fp16", "10.4")));
  EXPECT_EQ(d.kind, "toolchain");
  EXPECT_EQ(d.name, "tensorrt");
  EXPECT_EQ(d.cached, "10.3");
  EXPECT_EQ(d.current, "10.4");
}

TEST_P(ExplainTest, InputSpec) {
  const auto d = only_difference(explain(model(), request("fp16", "10.3", "refittable", 64)));
  EXPECT_EQ(d.kind, "input_spec");
  EXPECT_EQ(d.name, "#0 'x'");
  EXPECT_EQ(d.cached, "min 1x8 opt 4x8 max 32x8");
  EXPECT_EQ(d.current, "min 1x8 opt 4x8 max 64x8");
}

TEST_P(ExplainTest, RefitMode) {
  // A weight-bound mode also keys the weight fingerprint: two differences, the refit mode first.
  const Explanation e = explain(model(), request("fp16", "10.3", "none"));
  ASSERT_FALSE(e.candidates.empty());
  const auto& differences = e.candidates[0].differences;
  ASSERT_EQ(differences.size(), 2u);
  EXPECT_EQ(differences[0].kind, "refit_mode");
  EXPECT_EQ(differences[0].cached, "refittable");
  EXPECT_EQ(differences[0].current, "none");
  EXPECT_EQ(differences[1].kind, "setting");
  EXPECT_EQ(differences[1].name, "graphcache.weight_fingerprint");
  EXPECT_EQ(differences[1].cached, "(absent)");
}

TEST_P(ExplainTest, Node) {
  const Explanation e = explain(model({.op = "Sigmoid"}), request());
  EXPECT_EQ(e.result, "nearest_structure");
  const auto d = only_difference(e);
  EXPECT_EQ(d.kind, "node");
  EXPECT_NE(d.cached.find("Relu"), std::string::npos);
  EXPECT_NE(d.current.find("Sigmoid"), std::string::npos);
  EXPECT_GT(e.candidates[0].similarity, 0.25);
}

TEST_P(ExplainTest, Attribute) {
  const auto d = only_difference(explain(model({.alpha = 0.25}), request()));
  EXPECT_EQ(d.kind, "attribute");
  EXPECT_EQ(d.name, "alpha");
  EXPECT_EQ(d.cached, "0.5");
  EXPECT_EQ(d.current, "0.25");
}

TEST_P(ExplainTest, Edge) {
  const auto d = only_difference(explain(model({.swap = true}), request()));
  EXPECT_EQ(d.kind, "edge");
  EXPECT_NE(d.text.find("operand 0 of node"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("graph input #0"), std::string::npos) << d.text;
}

TEST_P(ExplainTest, NoneClose) {
  const Explanation e = explain(unrelated(), request());
  EXPECT_EQ(e.result, "none_close");
  EXPECT_TRUE(e.candidates.empty());
  EXPECT_EQ(e.indexed_entries, 1u);
}

TEST_P(ExplainTest, CorruptSummaryIsNoExplanationNotACrash) {
  const ir::Graph g = model({.depth = 7});
  const KeyRequest r = request();
  const KeyResult k = compute_key(g, r);
  EntryMetadata m;
  for (auto& [name, value] : explain_fields(g, r, k)) m.extra[name] = value;
  std::string& summary = m.extra[std::string(store::kSummaryField)];
  summary = summary.substr(0, summary.size() / 2) + "AAAA";  // valid base64, broken frame
  store_->remove(compute_key(model(), r).key);
  store_->put(k.key, EngineSource::from_memory("e", 1), m);
  const Explanation e = explain(model({.op = "Sigmoid", .depth = 7}), r);
  ASSERT_EQ(e.result, "nearest_structure");
  EXPECT_EQ(e.candidates.at(0).differences.at(0).kind, "no_summary");
}

INSTANTIATE_TEST_SUITE_P(Tiers, ExplainTest, ::testing::Values(false, true),
                         [](const auto& tier) { return tier.param ? "Redis" : "Local"; });

TEST(ExplainIndex, DamagedIndexIsRebuiltFromEntries) {
  const auto dir = std::filesystem::temp_directory_path() / ("gc_explain_idx_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  StoreConfig c;
  c.cache_dir = dir.string();
  c.fsync = false;
  LocalStore store(c);
  put(store, model(), request());
  put(store, model({.alpha = 0.3}), request());
  std::ofstream(store::local_index_path(dir.string()), std::ios::app) << "garbage";
  ExplainSources sources;
  sources.cache_dir = dir.string();
  EXPECT_EQ(explain_miss(model(), request("fp32"), sources).indexed_entries, 2u);
  EXPECT_EQ(store::local_index_load(dir.string()).size(), 2u);  // the rewritten file parses
  std::filesystem::remove(store::local_index_path(dir.string()));
  EXPECT_EQ(explain_miss(model(), request(), sources).result, "hit");
  store.remove(compute_key(model(), request()).key);
  EXPECT_EQ(store::local_index_load(dir.string()).size(), 1u);  // the removal is logged
  store.clear();
  EXPECT_EQ(explain_miss(model(), request(), sources).indexed_entries, 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace graphcache
