// Small helpers to build ONNX models with the onnx protobuf classes and write them to a temp folder.
#pragma once

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"

namespace graphcache::onnx_test {

// Runs `load` and checks it throws graphcache::Error of `kind` whose message contains `needle`.
template <typename Load>
void expect_error(Load load, ErrorKind kind, const std::string& needle) {
  try {
    load();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "graphcache_onnx_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline onnx::ModelProto make_model(int64_t opset = 17) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* import = model.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model.mutable_graph()->set_name("g");
  return model;
}

inline void set_tensor_type(onnx::TypeProto* type, int elem_type, const std::vector<int64_t>& dims) {
  auto* tensor = type->mutable_tensor_type();
  tensor->set_elem_type(elem_type);
  auto* shape = tensor->mutable_shape();
  for (int64_t dim : dims) shape->add_dim()->set_dim_value(dim);
}

inline onnx::ValueInfoProto* add_input(onnx::GraphProto* graph, const std::string& name, int elem_type = 1,
                                       const std::vector<int64_t>& dims = {2, 3}) {
  auto* input = graph->add_input();
  input->set_name(name);
  set_tensor_type(input->mutable_type(), elem_type, dims);
  return input;
}

inline onnx::ValueInfoProto* add_output(onnx::GraphProto* graph, const std::string& name) {
  auto* output = graph->add_output();
  output->set_name(name);
  return output;
}

inline onnx::NodeProto* add_node(onnx::GraphProto* graph, const std::string& op,
                                 const std::vector<std::string>& inputs,
                                 const std::vector<std::string>& outputs, const std::string& domain = "") {
  auto* node = graph->add_node();
  node->set_op_type(op);
  node->set_domain(domain);
  for (const auto& name : inputs) node->add_input(name);
  for (const auto& name : outputs) node->add_output(name);
  node->set_name(op + "_" + (outputs.empty() ? std::string("x") : outputs[0]));
  return node;
}

inline onnx::AttributeProto* add_int_attribute(onnx::NodeProto* node, const std::string& name,
                                               int64_t value) {
  auto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
  return attribute;
}

inline onnx::AttributeProto* add_float_attribute(onnx::NodeProto* node, const std::string& name,
                                                 float value) {
  auto* attribute = node->add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::FLOAT);
  attribute->set_f(value);
  return attribute;
}

// A float tensor of `count` values 0, 1, 2... stored as raw_data.
inline onnx::TensorProto float_tensor(const std::string& name, const std::vector<int64_t>& dims) {
  onnx::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(onnx::TensorProto::FLOAT);
  int64_t count = 1;
  for (int64_t dim : dims) {
    tensor.add_dims(dim);
    count *= dim;
  }
  std::string raw(static_cast<size_t>(count) * sizeof(float), '\0');
  for (int64_t i = 0; i < count; ++i) {
    const float value = static_cast<float>(i);
    std::memcpy(raw.data() + i * sizeof(float), &value, sizeof(float));
  }
  tensor.set_raw_data(raw);
  return tensor;
}

// x[2, W.dims[0]] @ W, W a float initializer of `weight_dims`.
inline onnx::ModelProto matmul_with_weight(const std::vector<int64_t>& weight_dims) {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  add_input(graph, "x", 1, {2, weight_dims[0]});
  *graph->add_initializer() = float_tensor("W", weight_dims);
  add_node(graph, "MatMul", {"x", "W"}, {"y"});
  add_output(graph, "y");
  return model;
}

inline Key key_of(const onnx::ModelProto& model, const std::string& folder = "") {
  return compute_key(load_onnx_bytes(model.SerializeAsString(), folder)).key;
}

inline ir::Graph load(const onnx::ModelProto& model, const std::string& folder = "") {
  return load_onnx_bytes(model.SerializeAsString(), folder);
}

}  // namespace graphcache::onnx_test
