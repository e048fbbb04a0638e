// The false-hit classes of issue 10, one test each: two models that compute different things must get
// different keys (or, for weights, different weight fingerprints), and random nodes are never merged.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "graphcache/fingerprint.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"
#include "onnx_test_util.hpp"

namespace graphcache::onnx_test {
namespace {

// Y = Add(R1, R2) where R1 and R2 are two RandomNormal draws with equal attributes.
onnx::ModelProto two_draws(bool same_node) {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  for (const char* out : {"R1", "R2"}) {
    auto* node = add_node(graph, "RandomNormal", {}, {out});
    auto* shape = node->add_attribute();
    shape->set_name("shape");
    shape->set_type(onnx::AttributeProto::INTS);
    shape->add_ints(2);
    if (same_node) break;
  }
  add_node(graph, "Add", {"R1", same_node ? "R1" : "R2"}, {"Y"});
  add_output(graph, "Y");
  return model;
}

TEST(OnnxCoverage, RandomDrawsAreNeverMerged) {
  // R1 + R2 (two draws) is not R1 + R1 (one draw doubled).
  EXPECT_NE(key_of(two_draws(false)), key_of(two_draws(true)));
  const ir::Graph graph = load(two_draws(false));
  ASSERT_EQ(graph.nodes.size(), 3u);
  EXPECT_TRUE(graph.nodes[0].nondeterministic);
  EXPECT_TRUE(graph.nodes[1].nondeterministic);
  EXPECT_FALSE(graph.nodes[2].nondeterministic);
}

// Dropout(X, ratio, training_mode) at opset 13, training_mode given by `training` ("" omitted, "T" a
// graph input, "F"/"On" a constant false/true).
bool dropout_marked(const std::string& training) {
  onnx::ModelProto model = make_model(13);
  auto* graph = model.mutable_graph();
  add_input(graph, "X");
  if (training == "T") add_input(graph, "T", onnx::TensorProto::BOOL, {});
  if (training == "F" || training == "On") {
    onnx::TensorProto flag;
    flag.set_name(training);
    flag.set_data_type(onnx::TensorProto::BOOL);
    flag.add_int32_data(training == "On" ? 1 : 0);
    *graph->add_initializer() = flag;
  }
  add_node(graph, "Dropout", {"X", "", training}, {"Y"});
  add_output(graph, "Y");
  for (const ir::Node& node : load(model).nodes) {
    if (node.op.name == "Dropout") return node.nondeterministic;
  }
  ADD_FAILURE() << "no Dropout node";
  return false;
}

TEST(OnnxCoverage, DropoutIsRandomUnlessTrainingIsStaticallyOff) {
  EXPECT_FALSE(dropout_marked(""));
  EXPECT_FALSE(dropout_marked("F"));
  EXPECT_TRUE(dropout_marked("T"));
  EXPECT_TRUE(dropout_marked("On"));
}

}  // namespace
}  // namespace graphcache::onnx_test
