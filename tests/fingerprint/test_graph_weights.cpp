// fingerprint_graph_weights follows the canonical slot order it is given and ignores names.
#include <gtest/gtest.h>

#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"

namespace graphcache {
namespace {

ir::WeightSlot memory_slot(std::string name, const std::vector<uint8_t>& bytes, ir::TensorType type) {
  ir::WeightSlot slot{std::move(name), std::move(type), {}};
  slot.data.source = ir::WeightData::Source::kMemory;
  slot.data.pointer = bytes.data();
  slot.data.length = bytes.size();
  return slot;
}

ir::TensorType static_type(ir::DType dtype, std::vector<int64_t> dims) {
  std::vector<ir::Dim> shape;
  for (int64_t dim : dims) shape.push_back(ir::Dim::fixed(dim));
  return ir::TensorType{dtype, std::move(shape)};
}

TEST(FingerprintGraphWeights, FollowsWeightOrderAndIgnoresNames) {
  const std::vector<uint8_t> a(64, 1), b(32, 2);
  ir::Graph graph;
  graph.weights = {memory_slot("a", a, static_type(ir::DType::kFloat32, {16})),
                   memory_slot("b", b, static_type(ir::DType::kFloat16, {4, 4}))};
  const Digest in_order = fingerprint_graph_weights(graph, {0, 1});
  EXPECT_NE(in_order, fingerprint_graph_weights(graph, {1, 0}));
  EXPECT_NE(in_order, fingerprint_graph_weights(graph, {0}));

  ir::Graph swapped;  // same weights stored the other way round, other names
  swapped.weights = {memory_slot("second", b, static_type(ir::DType::kFloat16, {4, 4})),
                     memory_slot("first", a, static_type(ir::DType::kFloat32, {16}))};
  EXPECT_EQ(in_order, fingerprint_graph_weights(swapped, {1, 0}));

  const std::vector<WeightView> views{{ir::DType::kFloat32, {16}, graph.weights[0].data, "a"},
                                      {ir::DType::kFloat16, {4, 4}, graph.weights[1].data, "b"}};
  EXPECT_EQ(in_order, fingerprint_weights(views));
}

TEST(FingerprintGraphWeights, RejectsBadOrderAndNonStaticShapes) {
  const std::vector<uint8_t> a(8, 1);
  ir::Graph graph;
  graph.weights = {memory_slot("a", a, static_type(ir::DType::kFloat32, {2}))};
  EXPECT_THROW(fingerprint_graph_weights(graph, {1}), Error);
  graph.weights[0].type.shape = std::vector<ir::Dim>{ir::Dim::symbolic("n")};
  EXPECT_THROW(fingerprint_graph_weights(graph, {0}), Error);
  graph.weights[0].type.shape.reset();
  EXPECT_THROW(fingerprint_graph_weights(graph, {0}), Error);
}

}  // namespace
}  // namespace graphcache
