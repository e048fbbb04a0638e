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
  body->nodes.push_back(ir::Node{{"", "Relu", "", 0}, {ir::ValueRef::capture(0)}, {}, {{"r", {}}}, {}, "r"});
  body->outputs.push_back({ir::ValueRef::node_output(0), "r", {}});
  GraphBuilder outer;
  auto c = outer.input("c", TensorType::of(DType::kBool, {}));
  auto y = outer.node({"", "If", "", 0}, {c}, {{"then_branch", ir::GraphPtr(body)}}).front();
  outer.output(y);
  EXPECT_THROW(ir::validate(outer.graph()), Error);  // the body reads capture 0, the If captures nothing
  outer.last_node().captures = {c};
  EXPECT_NO_THROW(ir::validate(outer.graph()));
}

TEST(Ir, FormatsValuesForHumans) {
  EXPECT_EQ(ir::to_string(f32({2, 3})), "float32[2,3]");
  EXPECT_EQ(ir::to_string(AttrValue::ints({1, 2})), "[1, 2]");
  EXPECT_EQ(ir::to_string(ir::OpId{"aten", "sum", "dim_IntList", 0}), "aten::sum.dim_IntList");
}

}  // namespace
}  // namespace graphcache::test
