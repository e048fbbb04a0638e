#include <gtest/gtest.h>

#include "graphcache/key.hpp"
#include "key_test_graphs.hpp"

namespace graphcache::test {
namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(Diff, IdenticalGraphsHaveNoDifference) {
  EXPECT_TRUE(explain_difference(mlp(), mlp(false, "x_", true)).empty());
}

TEST(Diff, SwappedOperandsNameTheEdge) {
  const auto text = joined(explain_difference(binary("Sub", false), binary("Sub", true)));
  EXPECT_NE(text.find("operand 0 of node"), std::string::npos) << text;
  EXPECT_NE(text.find("graph input #0 'x' in A, graph input #1 'y' in B"), std::string::npos) << text;
}

TEST(Diff, DifferentOpIsNamed) {
  const auto text = joined(explain_difference(binary("Sub", false), binary("Add", false)));
  EXPECT_NE(text.find("op Sub in A, Add in B"), std::string::npos) << text;
}

TEST(Diff, AttributeValueIsNamed) {
  auto make = [](int64_t axis) {
    GraphBuilder b;
    auto x = b.input("x", f32({2, 3}));
    auto s = b.op("Softmax", {x}, {{"axis", axis}});
    b.output(b.op("Relu", {s}));
    return std::move(b).build();
  };
  const auto text = joined(explain_difference(make(0), make(1)));
  EXPECT_NE(text.find("attribute 'axis' = 0 in A, 1 in B"), std::string::npos) << text;
}

TEST(Diff, InputTypeAndTiedWeightsAreExplained) {
  ir::Graph a = binary("Add", false);
  ir::Graph b = binary("Add", false);
  b.inputs[1].type = f32({2, 4});
  auto text = joined(explain_difference(a, b));
  EXPECT_NE(text.find("graph input #1 'y': float32[2,3] in A, float32[2,4] in B"), std::string::npos) << text;

  text = joined(explain_difference(mlp(false), mlp(true)));
  EXPECT_NE(text.find("weight"), std::string::npos) << text;
}

}  // namespace
}  // namespace graphcache::test
