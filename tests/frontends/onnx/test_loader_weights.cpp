// ONNX loader: weights. Initializers become weight slots pointing into the model (or its external data
// file, checked to stay in the model's folder); small integer initializers and small Constants are keyed by
// value, large Constants become weights; an initializer of a graph input stays a graph input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "graphcache/error.hpp"
#include "onnx_test_util.hpp"

namespace graphcache::onnx_test {
namespace {

namespace fs = std::filesystem;
using ir::ValueRef;

std::string read_range(const std::string& path, uint64_t offset, uint64_t length) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string bytes(length, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(length));
  return bytes;
}

TEST(OnnxLoader, EmbeddedInitializerIsAWeightSlotPointingIntoTheFile) {
  TempDir dir;
  const onnx::ModelProto model = matmul_with_weight({4, 8});
  write_file(dir.file("m.onnx"), model.SerializeAsString());
  const ir::Graph graph = load_onnx_file(dir.file("m.onnx"));
  ASSERT_EQ(graph.weights.size(), 1u);
  const ir::WeightSlot& slot = graph.weights[0];
  EXPECT_EQ(slot.name, "W");
  EXPECT_EQ(slot.type, ir::TensorType::of(ir::DType::kFloat32, {4, 8}));
  EXPECT_EQ(slot.data.source, ir::WeightData::Source::kFile);
  EXPECT_EQ(slot.data.path, fs::canonical(dir.file("m.onnx")).string());
  EXPECT_EQ(slot.data.length, 4u * 8u * sizeof(float));
  EXPECT_EQ(read_range(slot.data.path, slot.data.offset, slot.data.length),
            model.graph().initializer(0).raw_data());
  EXPECT_EQ(graph.nodes[0].inputs[1], ValueRef::weight(0));

  // In memory: the slot points into the caller's buffer.
  const std::string bytes = model.SerializeAsString();
  const ir::Graph in_memory = load_onnx_bytes(bytes, "");
  ASSERT_EQ(in_memory.weights[0].data.source, ir::WeightData::Source::kMemory);
  EXPECT_EQ(std::string(static_cast<const char*>(in_memory.weights[0].data.pointer),
                        in_memory.weights[0].data.length),
            model.graph().initializer(0).raw_data());
  EXPECT_EQ(compute_key(graph).key, compute_key(in_memory).key);
}

TEST(OnnxLoader, WeightValuesDoNotChangeTheKeyButShapesDo) {
  onnx::ModelProto other_values = matmul_with_weight({4, 8});
  (*other_values.mutable_graph()->mutable_initializer(0)->mutable_raw_data())[5] ^= 0x7f;
  EXPECT_EQ(key_of(other_values), key_of(matmul_with_weight({4, 8})));
  EXPECT_NE(key_of(matmul_with_weight({8, 4})), key_of(matmul_with_weight({4, 8})));
}

TEST(OnnxLoader, SmallIntegerInitializersAreKeyedByValue) {
  const auto reshape = [](int64_t rows) {
    onnx::ModelProto model = make_model();
    auto* graph = model.mutable_graph();
    add_input(graph, "x", 1, {2, 3});
    onnx::TensorProto* shape = graph->add_initializer();
    shape->set_name("shape");
    shape->set_data_type(onnx::TensorProto::INT64);
    shape->add_dims(2);
    shape->add_int64_data(rows);
    shape->add_int64_data(6 / rows);
    add_node(graph, "Reshape", {"x", "shape"}, {"y"});
    add_output(graph, "y");
    return model;
  };
  const ir::Graph graph = load(reshape(3));
  EXPECT_TRUE(graph.weights.empty());
  ASSERT_EQ(graph.nodes.size(), 2u);
  const ValueRef shape_ref =
      graph.nodes[1].op->name == "Reshape" ? graph.nodes[1].inputs[1] : graph.nodes[0].inputs[1];
  ASSERT_EQ(shape_ref.kind, ValueRef::Kind::kNodeOutput);
  EXPECT_EQ(graph.nodes[shape_ref.index].op->name, "Constant");
  EXPECT_NE(key_of(reshape(3)), key_of(reshape(2)));
}

TEST(OnnxLoader, GraphInputWithInitializerStaysAGraphInput) {
  onnx::ModelProto model = matmul_with_weight({3, 4});
  add_input(model.mutable_graph(), "W", 1, {3, 4});
  const ir::Graph graph = load(model);
  ASSERT_EQ(graph.inputs.size(), 2u);
  // The initializer is the input's default (12 elements: a by-value Constant node), keyed with it.
  ASSERT_TRUE(graph.inputs[1].default_value);
  EXPECT_EQ(graph.inputs[1].default_value->kind, ValueRef::Kind::kNodeOutput);
  EXPECT_FALSE(graph.inputs[0].default_value);
  for (const ir::Node& node : graph.nodes) {
    if (node.op->name == "MatMul") {
      EXPECT_EQ(node.inputs[1], ValueRef::graph_input(1));
    }
  }
}

onnx::ModelProto external_weight_model(const std::string& location, int64_t offset, int64_t length) {
  onnx::ModelProto model = matmul_with_weight({4, 8});
  onnx::TensorProto* weight = model.mutable_graph()->mutable_initializer(0);
  weight->clear_raw_data();
  weight->set_data_location(onnx::TensorProto::EXTERNAL);
  const auto add_entry = [&](const std::string& key, const std::string& value) {
    auto* entry = weight->add_external_data();
    entry->set_key(key);
    entry->set_value(value);
  };
  add_entry("location", location);
  if (offset >= 0) add_entry("offset", std::to_string(offset));
  if (length >= 0) add_entry("length", std::to_string(length));
  return model;
}

TEST(OnnxLoader, ExternalDataIsAWeightSlotInTheExternalFile) {
  TempDir dir;
  write_file(dir.file("weights.bin"), std::string(64, 'p') + std::string(128, 'w'));
  write_file(dir.file("m.onnx"), external_weight_model("weights.bin", 64, 128).SerializeAsString());
  const ir::Graph graph = load_onnx_file(dir.file("m.onnx"));
  ASSERT_EQ(graph.weights.size(), 1u);
  EXPECT_EQ(graph.weights[0].data.source, ir::WeightData::Source::kFile);
  EXPECT_EQ(graph.weights[0].data.path, fs::canonical(dir.file("weights.bin")).string());
  EXPECT_EQ(graph.weights[0].data.offset, 64u);
  EXPECT_EQ(graph.weights[0].data.length, 128u);
  // Same structure as the embedded model: same key.
  EXPECT_EQ(compute_key(graph).key, key_of(matmul_with_weight({4, 8})));
  // Without 'length' the payload is the tensor's size.
  write_file(dir.file("m2.onnx"), external_weight_model("weights.bin", 64, -1).SerializeAsString());
  EXPECT_EQ(load_onnx_file(dir.file("m2.onnx")).weights[0].data.length, 128u);
}

TEST(OnnxLoader, ExternalDataOutsideTheModelFolderIsRefused) {
  TempDir dir;
  fs::create_directory(dir.path() / "model");
  fs::create_directory(dir.path() / "model" / "sub");
  write_file(dir.file("outside.bin"), std::string(128, 'x'));
  fs::create_symlink(dir.path() / "outside.bin", dir.path() / "model" / "link.bin");
  const std::string model_path = (dir.path() / "model" / "m.onnx").string();
  const auto attempt = [&](const std::string& location, const std::string& needle) {
    write_file(model_path, external_weight_model(location, 0, 128).SerializeAsString());
    expect_error([&] { load_onnx_file(model_path); }, ErrorKind::kInvalidModel, needle);
  };
  attempt("../outside.bin", "escapes the model's folder");
  attempt("sub/../../outside.bin", "escapes the model's folder");
  attempt((dir.path() / "outside.bin").string(), "is absolute");
  attempt("/etc/passwd", "is absolute");
  attempt("link.bin", "resolves outside the model's folder");
  attempt("missing.bin", "cannot be opened");
  attempt("", "has no 'location'");
  attempt("sub", "not a regular file");
  // In-memory models have no folder: external data is refused.
  expect_error([&] { load_onnx_bytes(external_weight_model("w.bin", 0, 128).SerializeAsString(), ""); },
               ErrorKind::kInvalidModel, "needs the model's folder");
}

TEST(OnnxLoader, ExternalDataRangesAreChecked) {
  TempDir dir;
  write_file(dir.file("weights.bin"), std::string(100, 'w'));
  const auto attempt = [&](int64_t offset, int64_t length, const std::string& needle) {
    write_file(dir.file("m.onnx"), external_weight_model("weights.bin", offset, length).SerializeAsString());
    expect_error([&] { load_onnx_file(dir.file("m.onnx")); }, ErrorKind::kInvalidModel, needle);
  };
  attempt(0, 128, "runs past the end");
  attempt(200, 128, "past the end");
  attempt(0, 64, "the tensor needs 128");
}

TEST(OnnxLoader, ConstantsAreKeyedByValueAndLargeOnesBecomeWeights) {
  const auto constant_model = [](const onnx::TensorProto& value) {
    onnx::ModelProto model = make_model();
    auto* graph = model.mutable_graph();
    add_input(graph, "x", 1, {value.dims(0)});
    auto* node = add_node(graph, "Constant", {}, {"c"});
    auto* attribute = node->add_attribute();
    attribute->set_name("value");
    attribute->set_type(onnx::AttributeProto::TENSOR);
    *attribute->mutable_t() = value;
    add_node(graph, "Add", {"x", "c"}, {"y"});
    add_output(graph, "y");
    return model;
  };
  const onnx::TensorProto raw = float_tensor("v", {4});
  onnx::TensorProto typed;
  typed.set_data_type(onnx::TensorProto::FLOAT);
  typed.add_dims(4);
  for (float f : {0.0f, 1.0f, 2.0f, 3.0f}) typed.add_float_data(f);
  const ir::Graph small = load(constant_model(raw));
  ASSERT_EQ(small.nodes.size(), 2u);
  EXPECT_TRUE(small.weights.empty());
  EXPECT_EQ(key_of(constant_model(raw)), key_of(constant_model(typed)));  // raw_data == float_data
  onnx::TensorProto changed = typed;
  changed.set_float_data(3, 4.0f);
  EXPECT_NE(key_of(constant_model(changed)), key_of(constant_model(typed)));

  const ir::Graph large = load(constant_model(float_tensor("big", {20000})));  // 80 KB > 64 KiB
  ASSERT_EQ(large.nodes.size(), 1u);
  ASSERT_EQ(large.weights.size(), 1u);
  EXPECT_EQ(large.weights[0].type, ir::TensorType::of(ir::DType::kFloat32, {20000}));
  EXPECT_EQ(large.weights[0].data.length, 80000u);
  EXPECT_EQ(large.nodes[0].inputs[1], ValueRef::weight(0));
}

}  // namespace
}  // namespace graphcache::onnx_test
