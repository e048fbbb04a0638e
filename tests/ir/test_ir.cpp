#include <gtest/gtest.h>

#include "graphcache/error.hpp"
#include "key_test_graphs.hpp"

namespace graphcache::test {
namespace {

TEST(Ir, BuilderValidatesReferences) {
  GraphBuilder b;
  auto x = b.input("x", f32({2}));
  b.op("Relu", {ir::ValueRef::node_output(5)});
  b.output(x);
  EXPECT_THROW(std::move(b).build(), Error);
}

TEST(Ir, ValidateReturnsATopologicalOrder) {
  ir::Graph g = mlp(false, "", /*reverse_nodes=*/true);
  const auto order = ir::validate(g);
  ASSERT_EQ(order.size(), g.nodes.size());
  std::vector<size_t> position(order.size());
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (const auto& in : g.nodes[n].inputs)
      if (in.kind == ir::ValueRef::Kind::kNodeOutput) {
        EXPECT_LT(position[in.index], position[n]);
      }
}

TEST(Ir, OperandIndexAndCapturesAreChecked) {
  GraphBuilder b;
  auto x = b.input("x", f32({2}));
  b.output(b.op("cat", {x}, {{"tensors", AttrValue::list({ir::OperandIndex{3}})}}));
  EXPECT_THROW(std::move(b).build(), Error);

  auto body = std::make_shared<ir::Graph>();
  body->capture_names = {"outer"};
  ir::Node relu;
  relu.op = ir::OpId{"", "Relu", "", 0};
  relu.inputs = {ir::ValueRef::capture(0)};
  relu.outputs = {{"r", {}}};
  relu.name = "r";
  body->nodes.push_back(std::move(relu));
  body->outputs.push_back({ir::ValueRef::node_output(0), "r", {}});
  GraphBuilder outer;
  auto c = outer.input("c", TensorType::of(DType::kBool, {}));
  auto y = outer.node({"", "If", "", 0}, {c}, {{"then_branch", ir::GraphPtr(body)}}).front();
  outer.output(y);
  EXPECT_THROW(ir::validate(outer.graph()), Error);  // the body reads capture 0, the If captures nothing
  outer.last_node().captures = {c};
  EXPECT_NO_THROW(ir::validate(outer.graph()));
}

// validate() builds its messages only on failure (the success path allocates no strings): each message
// must still name the node, its op / name and what is wrong.
std::string validation_error(const ir::Graph& g) {
  try {
    ir::validate(g);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel);
    return e.what();
  }
  return "";
}

TEST(Ir, ValidationMessagesNameTheProblem) {
  GraphBuilder b;
  auto x = b.input("x", f32({2}));
  auto r = b.node({"", "Relu", "", 0}, {x}, {}, 1, "relu0").front();
  b.output(r);
  ir::Graph g = b.graph();

  g.nodes[0].inputs[0] = ir::ValueRef::node_output(7);
  std::string what = validation_error(g);
  EXPECT_NE(what.find("node 0 (Relu 'relu0')"), std::string::npos) << what;
  EXPECT_NE(what.find("reference to node 7 out of range"), std::string::npos) << what;

  g.nodes[0].inputs[0] = ir::ValueRef::weight(3);
  what = validation_error(g);
  EXPECT_NE(what.find("reference to weight 3 out of range"), std::string::npos) << what;

  g.nodes[0].inputs[0] = x;
  g.nodes[0].attributes.push_back({"axes", AttrValue::list({ir::OperandIndex{4}})});
  what = validation_error(g);
  EXPECT_NE(what.find("node 0 (Relu 'relu0') attribute 'axes'"), std::string::npos) << what;
  EXPECT_NE(what.find("operand index 4 out of range"), std::string::npos) << what;

  g.nodes[0].attributes.clear();
  g.outputs[0].value = ir::ValueRef::node_output(0, 2);
  what = validation_error(g);
  EXPECT_NE(what.find("graph output 0"), std::string::npos) << what;
  EXPECT_NE(what.find("output 2 of node 0 which has 1 outputs"), std::string::npos) << what;

  g.outputs[0].value = r;
  EXPECT_EQ(validation_error(g), "");
}

TEST(Ir, ValidationFindsCyclesThroughTheEdgeArrays) {
  GraphBuilder b;
  auto x = b.input("x", f32({2}));
  auto a = b.op("Relu", {x});
  auto c = b.op("Neg", {a});
  auto d = b.op("Add", {c, a});
  b.output(d);
  ir::Graph g = b.graph();
  EXPECT_EQ(ir::validate(g).size(), 3u);
  g.nodes[0].inputs[0] = d;  // Relu <- Add <- Neg <- Relu
  const std::string what = validation_error(g);
  EXPECT_NE(what.find("is part of a cycle"), std::string::npos) << what;
}

TEST(Ir, FormatsValuesForHumans) {
  EXPECT_EQ(ir::to_string(f32({2, 3})), "float32[2,3]");
  EXPECT_EQ(ir::to_string(AttrValue::ints({1, 2})), "[1, 2]");
  EXPECT_EQ(ir::to_string(ir::OpId{"aten", "sum", "dim_IntList", 0}), "aten::sum.dim_IntList");
}

}  // namespace
}  // namespace graphcache::test
