// The residual model of any size that both the ONNX golden-keys test and the load-scaling bench
// (bench/hardening/onnx_load_scaling.cpp) generate: `blocks` residual MatMul/Relu/Add blocks, each with
// a weight initializer (kept by value as a Constant node where small enough, else a weight slot).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstddef>
#include <initializer_list>
#include <string>

namespace graphcache::onnx_test {

struct ResidualModelOptions {
  size_t blocks = 1;
  int weight_side = 4;  // each weight has weight_side^2 floats
  // false: every weight weight_side x weight_side in raw_data filled with the block number's low byte
  // (the bench's model). true: odd blocks' weights are (side/2) x (side*2), and only every third weight is
  // in raw_data, the others in float_data scaled by weight_scale (the golden-keys test's mix of payloads).
  bool mixed_payloads = false;
  float weight_scale = 1.0f;
};

inline std::string residual_model(const ResidualModelOptions& options) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  onnx::GraphProto* graph = model.mutable_graph();
  auto* input = graph->add_input();
  input->set_name("x0");
  auto* tensor = input->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  tensor->mutable_shape()->add_dim()->set_dim_value(1);
  tensor->mutable_shape()->add_dim()->set_dim_value(4);
  const int side = options.weight_side;
  const auto elements = static_cast<size_t>(side * side);
  std::string x = "x0";
  for (size_t block = 0; block < options.blocks; ++block) {
    const std::string p = "b" + std::to_string(block) + ".";
    auto* w = graph->add_initializer();
    w->set_name(p + "w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    const bool odd_shape = options.mixed_payloads && block % 2 != 0;
    w->add_dims(odd_shape ? side / 2 : side);
    w->add_dims(odd_shape ? side * 2 : side);
    if (!options.mixed_payloads || block % 3 == 0) {
      w->set_raw_data(std::string(elements * sizeof(float), static_cast<char>(block)));
    } else {
      for (size_t k = 0; k < elements; ++k)
        w->add_float_data(options.weight_scale * static_cast<float>((block * 16 + k) % 7));
    }
    const auto node = [&](const char* op, std::initializer_list<std::string> inputs, const std::string& out) {
      auto* n = graph->add_node();
      n->set_op_type(op);
      n->set_name(out);
      for (const auto& i : inputs) n->add_input(i);
      n->add_output(out);
    };
    node("MatMul", {x, p + "w"}, p + "mm");
    node("Relu", {p + "mm"}, p + "act");
    node("Add", {x, p + "act"}, p + "y");
    x = p + "y";
  }
  graph->add_output()->set_name(x);
  return model.SerializeAsString();
}

}  // namespace graphcache::onnx_test
