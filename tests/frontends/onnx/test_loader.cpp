// ONNX loader edge cases: mapping to the IR, schema defaults, subgraph captures, and every kind of
// malformed input (weights and Constants: test_loader_weights.cpp).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "graphcache/error.hpp"
#include "onnx_test_util.hpp"
#include "residual_model.hpp"

namespace graphcache::onnx_test {
namespace {

namespace fs = std::filesystem;
using ir::NodeVector;
using ir::ValueRef;

const ir::Attribute* find_attribute(const ir::Node& node, const std::string& name) {
  for (const auto& attribute : node.attributes) {
    if (attribute.name == name) return &attribute;
  }
  return nullptr;
}

onnx::ModelProto relu_model() {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  add_input(graph, "x");
  add_node(graph, "Relu", {"x"}, {"y"});
  add_output(graph, "y");
  return model;
}

TEST(OnnxLoader, MapsNodesEdgesTypesAndOpVersion) {
  const ir::Graph graph = load(relu_model());
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op, (ir::OpId{"", "Relu", "", 14}));
  EXPECT_EQ(graph.nodes[0].inputs, NodeVector<ValueRef>{ValueRef::graph_input(0)});
  ASSERT_EQ(graph.inputs.size(), 1u);
  EXPECT_EQ(graph.inputs[0].type, ir::TensorType::of(ir::DType::kFloat32, {2, 3}));
  ASSERT_EQ(graph.outputs.size(), 1u);
  EXPECT_EQ(graph.outputs[0].value, ValueRef::node_output(0, 0));
  EXPECT_EQ(graph.outputs[0].name, "y");
}

TEST(OnnxLoader, SymbolicAndUnknownDims) {
  onnx::ModelProto model = relu_model();
  auto* shape =
      model.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->mutable_dim(0)->set_dim_param("batch");
  shape->mutable_dim(1)->clear_dim_value();
  const ir::Graph graph = load(model);
  ASSERT_TRUE(graph.inputs[0].type.shape);
  EXPECT_EQ((*graph.inputs[0].type.shape)[0], ir::Dim::param("batch"));  // one opaque name
  EXPECT_EQ((*graph.inputs[0].type.shape)[1], ir::Dim::unknown());
}

TEST(OnnxLoader, AiOnnxDomainIsTheDefaultDomain) {
  onnx::ModelProto model = relu_model();
  model.mutable_graph()->mutable_node(0)->set_domain("ai.onnx");
  EXPECT_EQ(load(model).nodes[0].op->domain, "");
  EXPECT_EQ(key_of(model), key_of(relu_model()));
}

onnx::ModelProto gemm_model() {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  add_input(graph, "a", 1, {2, 3});
  add_input(graph, "b", 1, {3, 4});
  add_node(graph, "Gemm", {"a", "b"}, {"y"});
  add_output(graph, "y");
  return model;
}

TEST(OnnxLoader, FillsSchemaDefaultsSoExplicitDefaultEqualsOmitted) {
  const ir::Graph graph = load(gemm_model());
  const ir::Attribute* alpha = find_attribute(graph.nodes[0], "alpha");
  ASSERT_NE(alpha, nullptr);
  EXPECT_EQ(alpha->value, ir::AttrValue(1.0));
  const ir::Attribute* trans_a = find_attribute(graph.nodes[0], "transA");
  ASSERT_NE(trans_a, nullptr);
  EXPECT_EQ(trans_a->value, ir::AttrValue(int64_t{0}));

  onnx::ModelProto explicit_default = gemm_model();
  add_float_attribute(explicit_default.mutable_graph()->mutable_node(0), "alpha", 1.0f);
  EXPECT_EQ(key_of(explicit_default), key_of(gemm_model()));

  onnx::ModelProto other_value = gemm_model();
  add_float_attribute(other_value.mutable_graph()->mutable_node(0), "alpha", 2.0f);
  EXPECT_NE(key_of(other_value), key_of(gemm_model()));
}

TEST(OnnxLoader, OmittedOptionalInputIsNone) {
  onnx::ModelProto min_only = make_model();
  auto* graph = min_only.mutable_graph();
  add_input(graph, "x");
  add_input(graph, "bound", 1, {});
  add_node(graph, "Clip", {"x", "bound", ""}, {"y"});
  add_output(graph, "y");
  const ir::Graph loaded = load(min_only);
  EXPECT_EQ(loaded.nodes[0].inputs,
            (NodeVector<ValueRef>{ValueRef::graph_input(0), ValueRef::graph_input(1), ValueRef::none()}));

  onnx::ModelProto max_only = min_only;
  max_only.mutable_graph()->mutable_node(0)->set_input(1, "");
  max_only.mutable_graph()->mutable_node(0)->set_input(2, "bound");
  EXPECT_NE(key_of(min_only), key_of(max_only));
}

TEST(OnnxLoader, MissingFileIsAnIoError) {
  expect_error([] { load_onnx_file("/nonexistent/graphcache/model.onnx"); }, ErrorKind::kIo,
               "/nonexistent/graphcache/model.onnx");
  TempDir dir;
  expect_error([&] { load_onnx_file(dir.path().string()); }, ErrorKind::kIo, "not a regular file");
}

TEST(OnnxLoader, TruncatedModelsAreRefusedNeverCrash) {
  const std::string bytes = matmul_with_weight({4, 8}).SerializeAsString();
  size_t refused = 0;
  for (size_t length = 0; length < bytes.size(); ++length) {
    try {
      load_onnx_bytes(std::string_view(bytes).substr(0, length), "");
    } catch (const Error& e) {
      ++refused;
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel) << e.what();
    }
  }
  // Every cut inside the graph field (which spans almost the whole model) must be refused.
  EXPECT_GE(refused, bytes.size() - 8);
  TempDir dir;
  write_file(dir.file("cut.onnx"), bytes.substr(0, bytes.size() / 2));
  expect_error([&] { load_onnx_file(dir.file("cut.onnx")); }, ErrorKind::kInvalidModel, "truncated protobuf");
  write_file(dir.file("empty.onnx"), "");
  expect_error([&] { load_onnx_file(dir.file("empty.onnx")); }, ErrorKind::kInvalidModel,
               "model has no graph");
}

TEST(OnnxLoader, GarbageBytesAreRefusedNeverCrash) {
  std::mt19937 rng(1234);
  size_t refused = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng() % 256, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    try {
      load_onnx_bytes(bytes, "");
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 1900u);
  // Random bytes spliced into a valid model.
  const std::string valid = gemm_model().SerializeAsString();
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = valid;
    for (int flips = 0; flips < 3; ++flips) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    try {
      load_onnx_bytes(bytes, "");
    } catch (const Error&) {
    }
  }
  expect_error([] { load_onnx_bytes("\xff\xff\xff\xff", ""); }, ErrorKind::kInvalidModel, "<memory>: ");
}

TEST(OnnxLoader, CyclicGraphIsRefused) {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  add_input(graph, "x");
  add_node(graph, "Add", {"x", "b"}, {"a"});
  add_node(graph, "Relu", {"a"}, {"b"});
  add_output(graph, "a");
  expect_error([&] { load(model); }, ErrorKind::kInvalidModel, "cycle");
}

TEST(OnnxLoader, NodesMayBeListedInAnyOrder) {
  onnx::ModelProto ordered = make_model();
  auto* graph = ordered.mutable_graph();
  add_input(graph, "x");
  add_node(graph, "Relu", {"x"}, {"a"});
  add_node(graph, "Neg", {"a"}, {"b"});
  add_output(graph, "b");
  onnx::ModelProto reversed = ordered;
  reversed.mutable_graph()->mutable_node()->SwapElements(0, 1);
  EXPECT_EQ(key_of(ordered), key_of(reversed));
}

// A graph without subgraphs resolves its forward operands and its outputs before it frees its names map
// and converts its nodes: every kind of output (a node's, a later-listed node's, a graph input, an
// initializer kept by value) and every forward operand must resolve as when nodes are listed in order.
TEST(OnnxLoader, ForwardOperandsAndOutputsResolveBeforeTheNamesMapIsFreed) {
  onnx::ModelProto ordered = make_model();
  auto* graph = ordered.mutable_graph();
  add_input(graph, "x");
  *graph->add_initializer() = float_tensor("c", {2});
  add_node(graph, "Add", {"x", "c"}, {"a"});
  add_node(graph, "Relu", {"a"}, {"b"});
  add_node(graph, "Neg", {"b"}, {"d"});
  for (const char* output : {"d", "b", "x", "c"}) add_output(graph, output);
  onnx::ModelProto reversed = ordered;
  std::reverse(reversed.mutable_graph()->mutable_node()->begin(),
               reversed.mutable_graph()->mutable_node()->end());
  EXPECT_EQ(key_of(ordered), key_of(reversed));

  const ir::Graph loaded = load(reversed);
  ASSERT_EQ(loaded.outputs.size(), 4u);
  EXPECT_EQ(loaded.outputs[0].value.kind, ir::ValueRef::Kind::kNodeOutput);
  EXPECT_EQ(loaded.nodes[loaded.outputs[0].value.index].op->name, "Neg");
  EXPECT_EQ(loaded.nodes[loaded.outputs[1].value.index].op->name, "Relu");
  EXPECT_EQ(loaded.outputs[2].value, ir::ValueRef::graph_input(0));
  EXPECT_EQ(loaded.nodes[loaded.outputs[3].value.index].op->name, "Constant");
  for (const ir::Node& node : loaded.nodes) {
    for (const ir::ValueRef& ref : node.inputs) EXPECT_NE(ref.kind, ir::ValueRef::Kind::kNone) << node.name;
  }

  // An operand and an output that nothing defines still fail as before, when listed after their users.
  onnx::ModelProto undefined = reversed;
  undefined.mutable_graph()->mutable_node(0)->set_input(0, "nope");
  expect_error([&] { load(undefined); }, ErrorKind::kInvalidModel,
               "input 'nope' is not defined by any node, graph input or initializer: graph.node[0]");
  onnx::ModelProto missing_output = reversed;
  add_output(missing_output.mutable_graph(), "z");
  expect_error([&] { load(missing_output); }, ErrorKind::kInvalidModel,
               "graph output is not produced by any node, graph input or initializer: graph.output[4] ('z')");
}

// A file the loader maps: it releases the file's pages behind its passes over the nodes (every MiB, in
// files of 4 MiB and more) and reads released pages again (names compared in lookups, output names, error
// messages). Loaded from a file of several MiB it must key, and fail, exactly as from bytes in memory
// (never released).
TEST(OnnxLoader, MappedFileReleasedBehindThePassesLoadsAsFromMemory) {
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(residual_model({.blocks = 30000, .mixed_payloads = true})));
  TempDir dir;
  const auto file_and_memory = [&](const onnx::ModelProto& m) {
    const std::string bytes = m.SerializeAsString();
    ASSERT_GT(bytes.size(), size_t{6} << 20);  // released from 4 MiB on, every MiB
    const std::string path = dir.file("big.onnx");
    write_file(path, bytes);
    std::string from_file, from_memory;
    try {
      from_file = compute_key(load_onnx_file(path)).key.hex();
    } catch (const Error& e) {
      from_file = std::string(e.what()).replace(0, path.size(), "<memory>");
    }
    try {
      from_memory = compute_key(load_onnx_bytes(bytes, dir.path().string())).key.hex();
    } catch (const Error& e) {
      from_memory = e.what();
    }
    EXPECT_EQ(from_file, from_memory);
  };
  file_and_memory(model);
  // The last node reads an undefined name; the first one reads the last output (a cycle, reported after
  // every node is converted, with a node's name and op read from released pages).
  onnx::ModelProto undefined = model;
  auto* graph = undefined.mutable_graph();
  graph->mutable_node(graph->node_size() - 1)->set_input(1, "nowhere");
  file_and_memory(undefined);
  onnx::ModelProto cyclic = model;
  cyclic.mutable_graph()->mutable_node(0)->set_input(0, "b29999.y");
  file_and_memory(cyclic);
  const std::string path = dir.file("cyclic.onnx");
  write_file(path, cyclic.SerializeAsString());
  expect_error([&] { load_onnx_file(path); }, ErrorKind::kInvalidModel,
               "the graph has a cycle: graph.node[0] ('b0.mm', MatMul)");
}

// Nodes share one wire operator per distinct (op_type, domain, overload): the same op_type in two domains
// stays two ops.
TEST(OnnxLoader, SameOpTypeInTwoDomainsStaysTwoOps) {
  onnx::ModelProto model = make_model();
  auto* custom = model.add_opset_import();
  custom->set_domain("custom.ops");
  custom->set_version(3);
  auto* graph = model.mutable_graph();
  add_input(graph, "x");
  add_node(graph, "Relu", {"x"}, {"a"});
  add_node(graph, "Relu", {"a"}, {"b"}, "custom.ops");
  add_node(graph, "Relu", {"b"}, {"c"});
  add_output(graph, "c");
  const ir::Graph loaded = load(model);
  ASSERT_EQ(loaded.nodes.size(), 3u);
  EXPECT_EQ(loaded.nodes[0].op->domain, "");
  EXPECT_EQ(loaded.nodes[1].op->domain, "custom.ops");
  EXPECT_EQ(loaded.nodes[1].op->version, 3);
  EXPECT_EQ(loaded.nodes[2].op->domain, "");
  EXPECT_EQ(loaded.nodes[2].op->name, "Relu");
}

TEST(OnnxLoader, UndefinedAndDuplicateNamesAreRefused) {
  onnx::ModelProto undefined = relu_model();
  undefined.mutable_graph()->mutable_node(0)->set_input(0, "nope");
  expect_error([&] { load(undefined); }, ErrorKind::kInvalidModel, "input 'nope' is not defined");

  onnx::ModelProto duplicate = relu_model();
  add_node(duplicate.mutable_graph(), "Neg", {"x"}, {"y"});
  expect_error([&] { load(duplicate); }, ErrorKind::kInvalidModel, "'y' is defined twice");

  onnx::ModelProto missing_output = relu_model();
  add_output(missing_output.mutable_graph(), "z");
  expect_error([&] { load(missing_output); }, ErrorKind::kInvalidModel, "graph output is not produced");

  onnx::ModelProto duplicate_attribute = gemm_model();
  add_float_attribute(duplicate_attribute.mutable_graph()->mutable_node(0), "alpha", 1.0f);
  add_float_attribute(duplicate_attribute.mutable_graph()->mutable_node(0), "alpha", 2.0f);
  expect_error([&] { load(duplicate_attribute); }, ErrorKind::kInvalidModel, "attribute appears twice");
}

TEST(OnnxLoader, UnknownOpInTheDefaultDomainIsRefused) {
  onnx::ModelProto model = relu_model();
  model.mutable_graph()->mutable_node(0)->set_op_type("Rellu");
  expect_error([&] { load(model); }, ErrorKind::kInvalidModel,
               "unknown operator 'Rellu' in domain 'ai.onnx'");
}

TEST(OnnxLoader, CustomDomainOpsAreKeptWithTheirOpsetVersion) {
  onnx::ModelProto model = relu_model();
  model.mutable_graph()->mutable_node(0)->set_op_type("FusedThing");
  model.mutable_graph()->mutable_node(0)->set_domain("com.example");
  EXPECT_EQ(load(model).nodes[0].op, (ir::OpId{"com.example", "FusedThing", "", 0}));
  auto* import = model.add_opset_import();
  import->set_domain("com.example");
  import->set_version(3);
  EXPECT_EQ(load(model).nodes[0].op->version, 3);
}

TEST(OnnxLoader, OpsetNewerThanLibonnxKnowsUsesTheOpsetVersion) {
  onnx::ModelProto model = relu_model();
  model.mutable_opset_import(0)->set_version(99);
  EXPECT_EQ(load(model).nodes[0].op->version, 99);
}

// If(cond) with then = x + y and else = y - x, both reading x and y from the enclosing graph.
onnx::ModelProto if_model(bool reverse_body_nodes) {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  add_input(graph, "cond", 9, {});
  add_input(graph, "x");
  add_input(graph, "y");
  auto* node = add_node(graph, "If", {"cond"}, {"out"});
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* attribute = node->add_attribute();
    attribute->set_name(branch);
    attribute->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* body = attribute->mutable_g();
    body->set_name(branch);
    if (std::string(branch) == "then_branch") {
      add_node(body, "Relu", {"y"}, {"ry"});
      add_node(body, "Add", {"x", "ry"}, {"r"});
    } else {
      add_node(body, "Sub", {"y", "x"}, {"r"});
    }
    if (reverse_body_nodes) std::reverse(body->mutable_node()->begin(), body->mutable_node()->end());
    add_output(body, "r");
  }
  add_output(graph, "out");
  return model;
}

TEST(OnnxLoader, SubgraphsCaptureOuterValuesInOrderOfFirstUse) {
  const ir::Graph graph = load(if_model(false));
  ASSERT_EQ(graph.nodes.size(), 1u);
  const ir::Node& node = graph.nodes[0];
  EXPECT_EQ(node.op->name, "If");
  // Bodies are walked in attribute-name order: else_branch (y - x) first, so y is capture 0.
  EXPECT_EQ(node.captures, (NodeVector<ValueRef>{ValueRef::graph_input(2), ValueRef::graph_input(1)}));
  const ir::Attribute* then_branch = find_attribute(node, "then_branch");
  ASSERT_NE(then_branch, nullptr);
  const auto& body = *std::get<ir::GraphPtr>(then_branch->value.value);
  EXPECT_EQ(body.capture_names, (std::vector<std::string>{"y", "x"}));
  for (const ir::Node& inner : body.nodes) {
    if (inner.op->name == "Add") {
      EXPECT_EQ(inner.inputs[0], ValueRef::capture(1));
    }
    if (inner.op->name == "Relu") {
      EXPECT_EQ(inner.inputs[0], ValueRef::capture(0));
    }
  }
  // Listing the body nodes in another order numbers the captures the same way.
  EXPECT_EQ(key_of(if_model(true)), key_of(if_model(false)));
  // Swapping x and y inside a body is a different program.
  onnx::ModelProto swapped = if_model(false);
  auto* else_body = swapped.mutable_graph()->mutable_node(0)->mutable_attribute(1)->mutable_g();
  else_body->mutable_node(0)->set_input(0, "x");
  else_body->mutable_node(0)->set_input(1, "y");
  EXPECT_NE(key_of(swapped), key_of(if_model(false)));
}

TEST(OnnxLoader, NestedSubgraphCapturesPropagate) {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  add_input(graph, "cond", 9, {});
  add_input(graph, "x");
  auto* outer = add_node(graph, "If", {"cond"}, {"out"});
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* attribute = outer->add_attribute();
    attribute->set_name(branch);
    attribute->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* body = attribute->mutable_g();
    auto* inner = add_node(body, "If", {"cond"}, {"r"});
    for (const char* inner_branch : {"then_branch", "else_branch"}) {
      auto* inner_attribute = inner->add_attribute();
      inner_attribute->set_name(inner_branch);
      inner_attribute->set_type(onnx::AttributeProto::GRAPH);
      onnx::GraphProto* inner_body = inner_attribute->mutable_g();
      add_node(inner_body, "Neg", {"x"}, {"n"});
      add_output(inner_body, "n");
    }
    add_output(body, "r");
  }
  add_output(graph, "out");
  const ir::Graph loaded = load(model);
  // The outer If captures cond and x; the inner If (inside a body) captures them from the body's captures.
  EXPECT_EQ(loaded.nodes[0].captures,
            (NodeVector<ValueRef>{ValueRef::graph_input(0), ValueRef::graph_input(1)}));
  const auto& body = *std::get<ir::GraphPtr>(find_attribute(loaded.nodes[0], "then_branch")->value.value);
  ASSERT_EQ(body.nodes.size(), 1u);
  EXPECT_EQ(body.nodes[0].inputs, NodeVector<ValueRef>{ValueRef::capture(0)});
  EXPECT_EQ(body.nodes[0].captures, NodeVector<ValueRef>{ValueRef::capture(1)});
  const auto& inner_body = *std::get<ir::GraphPtr>(find_attribute(body.nodes[0], "else_branch")->value.value);
  EXPECT_EQ(inner_body.nodes[0].inputs, NodeVector<ValueRef>{ValueRef::capture(0)});
  EXPECT_EQ(inner_body.capture_names, std::vector<std::string>{"x"});
}

TEST(OnnxLoader, ContainerTypesDoNotKeyLikeTensors) {
  const auto identity = [](bool sequence) {
    onnx::ModelProto model = make_model();
    auto* graph = model.mutable_graph();
    auto* input = graph->add_input();
    input->set_name("x");
    onnx::TypeProto* type = input->mutable_type();
    if (sequence) type = type->mutable_sequence_type()->mutable_elem_type();
    set_tensor_type(type, 1, {2});
    add_node(graph, "Identity", {"x"}, {"y"});
    add_output(graph, "y");
    return model;
  };
  EXPECT_NE(key_of(identity(true)), key_of(identity(false)));
}

TEST(OnnxLoader, FileAndBytesGiveTheSameGraphKey) {
  TempDir dir;
  const onnx::ModelProto model = if_model(false);
  write_file(dir.file("m.onnx"), model.SerializeAsString());
  EXPECT_EQ(compute_key(load_onnx_file(dir.file("m.onnx"))).key, key_of(model));
}

TEST(OnnxLoader, CorruptedModelsWithSubgraphsAndWeightsNeverCrash) {
  std::mt19937 rng(99);
  for (const onnx::ModelProto& model : {if_model(false), matmul_with_weight({4, 8})}) {
    const std::string valid = model.SerializeAsString();
    for (size_t length = 0; length < valid.size(); ++length) {
      try {
        load_onnx_bytes(std::string_view(valid).substr(0, length), "");
      } catch (const Error&) {
      }
    }
    for (int round = 0; round < 3000; ++round) {
      std::string bytes = valid;
      for (int flips = 0; flips < 1 + round % 4; ++flips)
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      try {
        const ir::Graph graph = load_onnx_bytes(bytes, "");
        ir::validate(graph);  // whatever loads is a well-formed IR
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace
}  // namespace graphcache::onnx_test
