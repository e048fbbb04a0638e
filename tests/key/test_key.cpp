#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "key_test_graphs.hpp"

namespace graphcache::test {
namespace {

Digest structure(const ir::Graph& g) {
  return structural_hash(g).digest;
}

// A single-op graph `op(x, const)` with one attribute, for attribute-sensitivity checks.
ir::Graph with_attr(const std::string& op, Attribute attr, TensorType in = f32({2, 3})) {
  GraphBuilder b;
  auto x = b.input("x", in);
  b.output(b.op(op, {x}, {std::move(attr)}));
  return std::move(b).build();
}

TEST(StructuralKey, DesignCollisionPairsDiffer) {
  // The three collisions of DESIGN.md's op_target-string key.
  EXPECT_NE(structure(binary("Sub", false)), structure(binary("Sub", true)));
  EXPECT_NE(structure(with_attr("ReduceSum", {"axes", AttrValue::ints({0})})),
            structure(with_attr("ReduceSum", {"axes", AttrValue::ints({1})})));
  EXPECT_NE(structure(with_attr("Mul", {"scalar", 2.0})), structure(with_attr("Mul", {"scalar", 3.0})));
}

TEST(StructuralKey, IndependentOfNamesAndNodeOrder) {
  const Digest base = structure(mlp());
  EXPECT_EQ(base, structure(mlp(false, "renamed_")));
  EXPECT_EQ(base, structure(mlp(false, "", /*reverse_nodes=*/true)));
  EXPECT_EQ(base, structure(mlp(false, "other.", true)));
}

TEST(StructuralKey, TiedWeightsDifferFromUntied) {
  EXPECT_NE(structure(mlp(false)), structure(mlp(true)));
}

TEST(StructuralKey, AttributeOrderDoesNotMatter) {
  auto make = [](bool reversed) {
    std::vector<Attribute> attrs{{"axis", 1}, {"keepdims", 0}};
    if (reversed) std::reverse(attrs.begin(), attrs.end());
    GraphBuilder b;
    auto x = b.input("x", f32({2, 3}));
    b.output(b.op("ReduceMax", {x}, attrs));
    return std::move(b).build();
  };
  EXPECT_EQ(structure(make(false)), structure(make(true)));
}

TEST(StructuralKey, FloatsAreBitExact) {
  auto g = [](double v) { return structure(with_attr("Mul", {"scalar", v})); };
  EXPECT_NE(g(0.0), g(-0.0));
  EXPECT_EQ(g(1.5), g(1.5));
  const double nan1 = std::numeric_limits<double>::quiet_NaN();
  const double nan2 = -nan1;
  EXPECT_EQ(g(nan1), g(nan1));
  EXPECT_NE(g(nan1), g(nan2));
}

TEST(StructuralKey, ValueKindsAreDistinct) {
  // 1, 1.0, true and "1" are different constants.
  std::vector<Digest> digests{structure(with_attr("Op", {"v", int64_t{1}})),
                              structure(with_attr("Op", {"v", 1.0})), structure(with_attr("Op", {"v", true})),
                              structure(with_attr("Op", {"v", "1"})),
                              structure(with_attr("Op", {"v", AttrValue::ints({1})}))};
  std::sort(digests.begin(), digests.end());
  EXPECT_EQ(std::unique(digests.begin(), digests.end()), digests.end());
}

TEST(StructuralKey, TypesAndShapesMatter) {
  EXPECT_NE(structure(with_attr("Relu", {"a", 0}, f32({2, 3}))),
            structure(with_attr("Relu", {"a", 0}, f32({3, 2}))));
  EXPECT_NE(structure(with_attr("Relu", {"a", 0}, f32({2, 3}))),
            structure(with_attr("Relu", {"a", 0}, TensorType::of(DType::kFloat16, {2, 3}))));
  auto weight_shape = [](int64_t n) {
    GraphBuilder b;
    auto x = b.input("x", f32({4, 8}));
    auto w = b.weight("w", f32({8, n}));
    b.output(b.op("MatMul", {x, w}));
    return structure(std::move(b).build());
  };
  EXPECT_NE(weight_shape(8), weight_shape(16));
}

TEST(StructuralKey, SymbolsCanonicalizedButSharingMatters) {
  auto make = [](std::string s1, std::string s2) {
    GraphBuilder b;
    auto x = b.input("x", TensorType::of(DType::kFloat32, {ir::Dim::symbolic(s1), ir::Dim::fixed(3)}));
    auto y = b.input("y", TensorType::of(DType::kFloat32, {ir::Dim::symbolic(s2), ir::Dim::fixed(3)}));
    b.output(b.op("Add", {x, y}));
    return structure(std::move(b).build());
  };
  EXPECT_EQ(make("batch", "batch"), make("N", "N"));  // renamed consistently: same
  EXPECT_EQ(make("s0", "s1"), make("s1", "s0"));      // renumbered (JAX @f_0 vs @f_1): same
  EXPECT_NE(make("batch", "batch"), make("a", "b"));  // shared vs independent: different
}

TEST(StructuralKey, NoSymbolSpellingCollidesWithTheEncodersOwnTokens) {
  // The old canonical form rewrote identifiers to "$k" and dropped whitespace, so a symbol spelled "$0"
  // equalled the first identifier, and "1 2" equalled "12".
  auto make = [](ir::Dim d1, ir::Dim d2) {
    GraphBuilder b;
    auto x = b.input("x", TensorType::of(DType::kFloat32, {std::move(d1)}));
    auto y = b.input("y", TensorType::of(DType::kFloat32, {std::move(d2)}));
    b.output(b.op("Add", {x, y}));
    return structure(std::move(b).build());
  };
  using ir::Dim;
  EXPECT_NE(make(Dim::symbolic("a"), Dim::symbolic("$0")), make(Dim::symbolic("a"), Dim::symbolic("a")));
  EXPECT_NE(make(Dim::symbolic("a"), Dim::symbolic("1 2")), make(Dim::symbolic("a"), Dim::symbolic("12")));
  EXPECT_EQ(make(Dim::symbolic("a"), Dim::symbolic("a + 1")), make(Dim::symbolic("b"), Dim::symbolic("b+1")));
  // An opaque name (ONNX dim_param) is one symbol: its characters are not parsed as an expression.
  EXPECT_NE(make(Dim::param("n+1"), Dim::param("n + 1")), make(Dim::param("n+1"), Dim::param("n+1")));
  EXPECT_EQ(make(Dim::param("n"), Dim::param("n + 1")), make(Dim::param("m"), Dim::param("$0")));
  EXPECT_NE(make(Dim::param("n"), Dim::param("n")), make(Dim::param("n"), Dim::param("$0")));
  // Opaque and expression symbols never meet, and neither is the unknown dim.
  EXPECT_NE(make(Dim::param("n"), Dim::param("n")), make(Dim::symbolic("n"), Dim::symbolic("n")));
  EXPECT_NE(make(Dim::param(""), Dim::unknown()), make(Dim::unknown(), Dim::unknown()));
}

TEST(StructuralKey, OutputOrderMatters) {
  auto make = [](bool swap) {
    GraphBuilder b;
    auto x = b.input("x", f32({2}));
    auto r = b.op("Relu", {x});
    auto s = b.op("Sigmoid", {x});
    b.output(swap ? s : r);
    b.output(swap ? r : s);
    return structure(std::move(b).build());
  };
  EXPECT_NE(make(false), make(true));
}

TEST(StructuralKey, DeadNodesAreIgnored) {
  auto make = [](bool dead) {
    GraphBuilder b;
    auto x = b.input("x", f32({2}));
    if (dead) b.op("Sigmoid", {x});
    b.output(b.op("Relu", {x}));
    return structural_hash(std::move(b).build());
  };
  EXPECT_EQ(make(false).digest, make(true).digest);
  EXPECT_EQ(make(true).reachable_nodes, 1u);
}

TEST(StructuralKey, DuplicatedSubexpressionIsTheSameComputation) {
  // relu(x) computed once and used twice, or computed twice: equal values, equal keys (the canonical
  // form numbers equal nodes alike, as a Merkle hash would give them equal digests); diff agrees.
  auto make = [](const std::string& second_op, bool shared) {
    GraphBuilder b;
    auto x = b.input("x", f32({4}));
    auto y1 = b.op("Relu", {x});
    auto y2 = shared ? y1 : b.op(second_op, {x});
    b.output(b.op("Sub", {y1, y2}));
    return std::move(b).build();
  };
  const ir::Graph shared = make("Relu", true), duplicated = make("Relu", false), other = make("Neg", false);
  EXPECT_EQ(structure(shared), structure(duplicated));
  EXPECT_TRUE(explain_difference(shared, duplicated).empty());
  EXPECT_NE(structure(shared), structure(other));
  EXPECT_FALSE(explain_difference(shared, other).empty());
  // Operand order still counts among equal-looking nodes: sub(relu(x), neg(x)) != sub(neg(x), relu(x)).
  GraphBuilder b;
  auto x = b.input("x", f32({4}));
  auto neg = b.op("Neg", {x});
  auto relu = b.op("Relu", {x});
  b.output(b.op("Sub", {neg, relu}));
  EXPECT_NE(structure(other), structure(std::move(b).build()));
}

TEST(StructuralKey, DuplicatesOfAWidelyReadNodesConsumersAreMerged) {
  // relu(x) read by 40 distinct Mul nodes, each computed once or twice, and 20 leaf Constants, each once or
  // twice: more readers than the canonical form's table probes next to relu(x) (16), so some equal nodes
  // are found in its hashed overflow table. Equal keys either way; a changed consumer changes the key.
  auto make = [](bool duplicated, int changed) {
    GraphBuilder b;
    auto x = b.input("x", f32({4}));
    auto relu = b.op("Relu", {x});
    const int copies = duplicated ? 2 : 1;
    for (int copy = 0; copy < copies; ++copy) {
      for (int i = 0; i < 40; ++i)
        b.output(b.op("Mul", {relu}, {{"scalar", static_cast<double>(i == changed ? 100 : i)}}));
      for (int i = 0; i < 20; ++i) b.output(b.op("Constant", {}, {{"value", int64_t{i}}}));
    }
    if (!duplicated) {  // the same outputs, read twice
      const std::vector<ir::GraphOutput> outputs = b.graph().outputs;
      for (const auto& out : outputs) b.output(out.value);
    }
    return std::move(b).build();
  };
  const ir::Graph shared = make(false, -1), duplicated = make(true, -1);
  EXPECT_EQ(structure(shared), structure(duplicated));
  EXPECT_TRUE(explain_difference(shared, duplicated).empty());
  EXPECT_EQ(structural_hash(duplicated).reachable_nodes, 2u * 60 + 1);
  for (int changed : {0, 17, 39}) EXPECT_NE(structure(make(true, changed)), structure(duplicated)) << changed;
}

TEST(StructuralKey, RandomNodesAreNeverMerged) {
  // sub(randn(x), randn(x)) draws twice (nonzero); sub(r, r) with one draw is zero: different keys,
  // though the two random nodes' encodings are equal. The same graph in another node order keeps its key.
  auto make = [](bool shared, bool reverse_nodes) {
    GraphBuilder b;
    auto x = b.input("x", f32({4}));
    auto r1 = b.op("RandomNormalLike", {x});
    b.last_node().nondeterministic = true;
    auto r2 = r1;
    if (!shared) {
      r2 = b.op("RandomNormalLike", {x});
      b.last_node().nondeterministic = true;
    }
    b.output(b.op("Sub", {r1, r2}));
    ir::Graph g = std::move(b).build();
    if (reverse_nodes) {
      std::swap(g.nodes[0], g.nodes[1]);
      for (auto& node : g.nodes)
        for (auto& ref : node.inputs)
          if (ref.kind == ir::ValueRef::Kind::kNodeOutput && ref.index < 2) ref.index = 1 - ref.index;
    }
    return g;
  };
  EXPECT_NE(structure(make(true, false)), structure(make(false, false)));
  EXPECT_EQ(structure(make(false, false)), structure(make(false, true)));
  EXPECT_FALSE(explain_difference(make(true, false), make(false, false)).empty());
}

TEST(StructuralKey, CyclesAndDanglingReferencesAreClearErrors) {
  GraphBuilder b;
  auto x = b.input("x", f32({2}));
  auto a = b.op("Relu", {x});
  b.op("Relu", {a});
  b.graph().nodes[0].inputs[0] = ir::ValueRef::node_output(1);
  b.output(a);
  ir::Graph cyclic = b.graph();
  try {
    structural_hash(cyclic);
    FAIL() << "cycle not detected";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
  }
  ir::Graph dangling = binary("Sub", false);
  dangling.nodes[0].inputs[1] = ir::ValueRef::graph_input(7);
  EXPECT_THROW(structural_hash(dangling), Error);
}

TEST(StructuralKey, LongChainsDoNotOverflowTheStack) {
  GraphBuilder b;
  auto v = b.input("x", f32({1}));
  for (int i = 0; i < 200000; ++i) v = b.op("Relu", {v});
  b.output(v);
  EXPECT_EQ(structural_hash(std::move(b).build()).reachable_nodes, 200000u);
}

TEST(StructuralKey, WeightOrderFollowsFirstUse) {
  ir::Graph g = mlp();
  std::swap(g.weights[0], g.weights[2]);  // storage order changes; references follow
  for (auto& n : g.nodes)
    for (auto& in : n.inputs)
      if (in.kind == ir::ValueRef::Kind::kWeight && (in.index == 0 || in.index == 2)) in.index = 2 - in.index;
  const auto info = structural_hash(g);
  EXPECT_EQ(info.digest, structure(mlp()));
  ASSERT_EQ(info.weight_order.size(), 3u);
  EXPECT_EQ(g.weights[info.weight_order[0]].name, "w1");
  EXPECT_EQ(g.weights[info.weight_order[1]].name, "b1");
  EXPECT_EQ(g.weights[info.weight_order[2]].name, "w2");
}

TEST(CompiledKey, SettingsToolchainAndSpecsArePartsOfTheKey) {
  const ir::Graph g = binary("Add", false);
  KeyRequest base;
  base.settings = {{"precision", "fp16", true}, {"log_level", "info", false}};
  base.toolchain = {{"tensorrt", "10.3.0"}, {"gpu", "sm_90"}};
  const Key k = compute_key(g, base).key;

  KeyRequest log_changed = base;
  log_changed.settings[1].value = "debug";
  EXPECT_EQ(compute_key(g, log_changed).key, k);  // not engine-relevant

  KeyRequest reordered = base;
  std::reverse(reordered.settings.begin(), reordered.settings.end());
  EXPECT_EQ(compute_key(g, reordered).key, k);

  KeyRequest precision = base;
  precision.settings[0].value = "fp32";
  EXPECT_NE(compute_key(g, precision).key, k);

  KeyRequest gpu = base;
  gpu.toolchain["gpu"] = "sm_89";
  EXPECT_NE(compute_key(g, gpu).key, k);

  KeyRequest profile = base;
  profile.input_specs = {{0, {1, 3}, {2, 3}, {4, 3}}};
  const Key with_profile = compute_key(g, profile).key;
  EXPECT_NE(with_profile, k);
  profile.input_specs[0].max_shape = {8, 3};
  EXPECT_NE(compute_key(g, profile).key, with_profile);

  KeyRequest bad = base;
  bad.input_specs = {{0, {4, 3}, {2, 3}, {1, 3}}};
  EXPECT_THROW(compute_key(g, bad), Error);
  bad.input_specs = {{5, {1}, {1}, {1}}};
  EXPECT_THROW(compute_key(g, bad), Error);
  KeyRequest dup = base;
  dup.settings.push_back({"precision", "fp32", true});
  EXPECT_THROW(compute_key(g, dup), Error);
}

TEST(CompiledKey, DeterministicWithinProcess) {
  EXPECT_EQ(compute_key(mlp()).key, compute_key(mlp()).key);
  EXPECT_EQ(compute_key(mlp()).key.hex().size(), 64u);
}

TEST(Digest, HexRoundTripAndValidation) {
  const Key k = compute_key(mlp()).key;
  EXPECT_EQ(Digest::from_hex(k.hex()), k);
  for (const char* bad :
       {"", "abc", "../../etc/passwd", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde/"}) {
    EXPECT_FALSE(Digest::is_valid_hex(bad)) << bad;
    EXPECT_THROW(Digest::from_hex(bad), Error) << bad;
  }
  std::string with_nul(64, '0');
  with_nul[10] = '\0';
  EXPECT_THROW(Digest::from_hex(with_nul), Error);
}

}  // namespace
}  // namespace graphcache::test
