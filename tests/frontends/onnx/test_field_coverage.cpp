// Table-driven check of src/frontends/onnx/README.md "Field coverage": each row mutates one field of a
// model that uses most of ONNX and says what must change: the key, the weight fingerprint, or nothing.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "graphcache/fingerprint.hpp"
#include "graphcache/key.hpp"
#include "graphcache/onnx.hpp"
#include "onnx_test_util.hpp"

namespace graphcache::onnx_test {
namespace {

// Y = local::F(LeakyRelu(X + W) + B + SP); F's body is Relu. W: 32 floats (a weight slot), B: 8 floats (by
// value), SP: a sparse initializer.
onnx::ModelProto base_model() {
  onnx::ModelProto model = make_model(17);
  model.set_producer_name("p");
  model.set_doc_string("d");
  auto* local = model.add_opset_import();
  local->set_domain("local");
  local->set_version(1);
  auto* g = model.mutable_graph();
  add_input(g, "X", onnx::TensorProto::FLOAT, {4, 8})
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(0)
      ->set_dim_param("N");
  *g->add_initializer() = float_tensor("W", {4, 8});
  *g->add_initializer() = float_tensor("B", {8});
  auto* sparse = g->add_sparse_initializer();
  sparse->add_dims(4);
  sparse->add_dims(8);
  sparse->mutable_values()->set_name("SP");
  sparse->mutable_values()->set_data_type(onnx::TensorProto::FLOAT);
  sparse->mutable_values()->add_dims(1);
  sparse->mutable_values()->add_float_data(2.0f);
  sparse->mutable_indices()->set_data_type(onnx::TensorProto::INT64);
  sparse->mutable_indices()->add_dims(1);
  sparse->mutable_indices()->add_int64_data(5);
  add_node(g, "Add", {"X", "W"}, {"A"});
  add_float_attribute(add_node(g, "LeakyRelu", {"A"}, {"L"}), "alpha", 0.2f);
  add_node(g, "Add", {"L", "B"}, {"L2"});
  add_node(g, "Add", {"L2", "SP"}, {"L3"});
  add_node(g, "F", {"L3"}, {"Y"}, "local");
  add_output(g, "Y");
  set_tensor_type(g->mutable_output(0)->mutable_type(), onnx::TensorProto::FLOAT, {4, 8});
  auto* info = g->add_value_info();
  info->set_name("A");
  set_tensor_type(info->mutable_type(), onnx::TensorProto::FLOAT, {4, 8});
  auto* f = model.add_functions();
  f->set_name("F");
  f->set_domain("local");
  f->add_input("a");
  f->add_output("b");
  f->add_opset_import()->set_version(17);
  auto* body = f->add_node();
  body->set_op_type("Relu");
  body->add_input("a");
  body->add_output("b");
  return model;
}

struct Identity {
  Key key;
  Digest weights;
};

Identity identity(const onnx::ModelProto& model) {
  const std::string bytes = model.SerializeAsString();
  const ir::Graph graph = load_onnx_bytes(bytes, "");
  const KeyResult key = compute_key(graph);
  return Identity{key.key, fingerprint_graph_weights(graph, key.structure.weight_order)};
}

enum class Changes { kKey, kWeightsOnly, kNothing };

struct Row {
  const char* field;
  Changes changes;
  std::function<void(onnx::ModelProto&)> mutate;
};

onnx::NodeProto* node(onnx::ModelProto& m, int i) {
  return m.mutable_graph()->mutable_node(i);
}

const std::vector<Row>& rows() {
  using M = onnx::ModelProto;
  static const std::vector<Row> table = {
      {"ModelProto.ir_version", Changes::kNothing, [](M& m) { m.set_ir_version(7); }},
      {"ModelProto.opset_import", Changes::kKey, [](M& m) { m.mutable_opset_import(0)->set_version(13); }},
      {"ModelProto.producer_name", Changes::kNothing, [](M& m) { m.set_producer_name("q"); }},
      {"ModelProto.producer_version", Changes::kNothing, [](M& m) { m.set_producer_version("2"); }},
      {"ModelProto.domain", Changes::kNothing, [](M& m) { m.set_domain("x.y"); }},
      {"ModelProto.model_version", Changes::kNothing, [](M& m) { m.set_model_version(9); }},
      {"ModelProto.doc_string", Changes::kNothing, [](M& m) { m.set_doc_string("other"); }},
      {"ModelProto.metadata_props", Changes::kNothing,
       [](M& m) {
         auto* p = m.add_metadata_props();
         p->set_key("k");
         p->set_value("v");
       }},
      {"ModelProto.functions (body)", Changes::kKey,
       [](M& m) { m.mutable_functions(0)->mutable_node(0)->set_op_type("Sigmoid"); }},
      {"FunctionProto.doc_string", Changes::kNothing,
       [](M& m) { m.mutable_functions(0)->set_doc_string("x"); }},
      {"FunctionProto.opset_import", Changes::kKey,
       [](M& m) { m.mutable_functions(0)->mutable_opset_import(0)->set_version(13); }},
      {"GraphProto.name", Changes::kNothing, [](M& m) { m.mutable_graph()->set_name("other"); }},
      {"GraphProto.doc_string", Changes::kNothing, [](M& m) { m.mutable_graph()->set_doc_string("other"); }},
      {"GraphProto.value_info", Changes::kNothing,
       [](M& m) {
         m.mutable_graph()->mutable_value_info(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
             onnx::TensorProto::DOUBLE);
       }},
      {"GraphProto.input (type)", Changes::kKey,
       [](M& m) {
         m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
             onnx::TensorProto::DOUBLE);
       }},
      {"TypeProto dim_param (renamed)", Changes::kNothing,
       [](M& m) {
         m.mutable_graph()
             ->mutable_input(0)
             ->mutable_type()
             ->mutable_tensor_type()
             ->mutable_shape()
             ->mutable_dim(0)
             ->set_dim_param("batch");
       }},
      {"TypeProto dim_param -> dim_value", Changes::kKey,
       [](M& m) {
         m.mutable_graph()
             ->mutable_input(0)
             ->mutable_type()
             ->mutable_tensor_type()
             ->mutable_shape()
             ->mutable_dim(0)
             ->set_dim_value(4);
       }},
      {"GraphProto.output (type)", Changes::kKey,
       [](M& m) {
         m.mutable_graph()
             ->mutable_output(0)
             ->mutable_type()
             ->mutable_tensor_type()
             ->mutable_shape()
             ->mutable_dim(1)
             ->set_dim_value(9);
       }},
      {"GraphProto.initializer (weight bytes)", Changes::kWeightsOnly,
       [](M& m) { (*m.mutable_graph()->mutable_initializer(0)->mutable_raw_data())[1] ^= 1; }},
      {"GraphProto.initializer (by-value bytes)", Changes::kKey,
       [](M& m) { (*m.mutable_graph()->mutable_initializer(1)->mutable_raw_data())[1] ^= 1; }},
      {"TensorProto.dims", Changes::kKey,
       [](M& m) {
         m.mutable_graph()->mutable_initializer(0)->set_dims(0, 8);
         m.mutable_graph()->mutable_initializer(0)->set_dims(1, 4);
       }},
      {"TensorProto.data_type", Changes::kKey,
       [](M& m) { m.mutable_graph()->mutable_initializer(0)->set_data_type(onnx::TensorProto::INT32); }},
      {"TensorProto.doc_string", Changes::kNothing,
       [](M& m) { m.mutable_graph()->mutable_initializer(0)->set_doc_string("x"); }},
      {"SparseTensorProto.values", Changes::kWeightsOnly,
       [](M& m) {
         m.mutable_graph()->mutable_sparse_initializer(0)->mutable_values()->set_float_data(0, 3.0f);
       }},
      {"SparseTensorProto.indices", Changes::kWeightsOnly,
       [](M& m) {
         m.mutable_graph()->mutable_sparse_initializer(0)->mutable_indices()->set_int64_data(0, 6);
       }},
      {"NodeProto.op_type", Changes::kKey, [](M& m) { node(m, 0)->set_op_type("Sub"); }},
      {"NodeProto.domain (ai.onnx alias)", Changes::kNothing,
       [](M& m) { node(m, 0)->set_domain("ai.onnx"); }},
      {"NodeProto.input (swap)", Changes::kKey,
       [](M& m) {
         node(m, 0)->set_input(0, "W");
         node(m, 0)->set_input(1, "X");
       }},
      {"NodeProto.name", Changes::kNothing, [](M& m) { node(m, 1)->set_name("other"); }},
      {"NodeProto.doc_string", Changes::kNothing, [](M& m) { node(m, 1)->set_doc_string("other"); }},
      {"NodeProto.overload", Changes::kKey,
       [](M& m) {
         node(m, 4)->GetReflection()->MutableUnknownFields(node(m, 4))->AddLengthDelimited(8, "o");
       }},
      {"AttributeProto.f", Changes::kKey, [](M& m) { node(m, 1)->mutable_attribute(0)->set_f(0.3f); }},
      {"AttributeProto.doc_string", Changes::kNothing,
       [](M& m) { node(m, 1)->mutable_attribute(0)->set_doc_string("x"); }},
  };
  return table;
}

TEST(OnnxFieldCoverage, EachFieldChangesExactlyWhatTheTableSays) {
  const Identity base = identity(base_model());
  size_t keyed = 0, fingerprinted = 0, ignored = 0;
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.field);
    onnx::ModelProto model = base_model();
    row.mutate(model);
    const Identity changed = identity(model);
    switch (row.changes) {
      case Changes::kKey:
        EXPECT_NE(changed.key, base.key);
        ++keyed;
        break;
      case Changes::kWeightsOnly:
        EXPECT_EQ(changed.key, base.key);
        EXPECT_NE(changed.weights, base.weights);
        ++fingerprinted;
        break;
      case Changes::kNothing:
        EXPECT_EQ(changed.key, base.key);
        EXPECT_EQ(changed.weights, base.weights);
        ++ignored;
        break;
    }
  }
  std::cout << "field rows: " << keyed << " keyed, " << fingerprinted << " fingerprinted, " << ignored
            << " ignored\n";
}

}  // namespace
}  // namespace graphcache::onnx_test
