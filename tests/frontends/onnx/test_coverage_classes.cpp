// The false-hit classes of issue 10, one test each: two models that compute different things must get
// different keys (or, for weights, different weight fingerprints), and random nodes are never merged.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <functional>
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
// graph input, "F"/"On" an initializer false/true, "F@"/"On@" a Constant node false/true listed after the
// Dropout: the file need not be sorted, and the Dropout is converted before its operand's producer).
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
  if (training == "F@" || training == "On@") {
    auto* value = add_node(graph, "Constant", {}, {training})->add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    value->mutable_t()->set_data_type(onnx::TensorProto::BOOL);
    value->mutable_t()->add_int32_data(training == "On@" ? 1 : 0);
  }
  add_output(graph, "Y");
  for (const ir::Node& node : load(model).nodes) {
    if (node.op->name == "Dropout") return node.nondeterministic;
  }
  ADD_FAILURE() << "no Dropout node";
  return false;
}

TEST(OnnxCoverage, DropoutIsRandomUnlessTrainingIsStaticallyOff) {
  EXPECT_FALSE(dropout_marked(""));
  EXPECT_FALSE(dropout_marked("F"));
  EXPECT_TRUE(dropout_marked("T"));
  EXPECT_TRUE(dropout_marked("On"));
  EXPECT_FALSE(dropout_marked("F@"));
  EXPECT_TRUE(dropout_marked("On@"));
}

// Identity over an input whose type `wrap` builds around float[2].
onnx::ModelProto identity_of(const std::function<onnx::TypeProto*(onnx::TypeProto*)>& wrap) {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  auto* input = graph->add_input();
  input->set_name("x");
  set_tensor_type(wrap(input->mutable_type()), onnx::TensorProto::FLOAT, {2});
  add_node(graph, "Identity", {"x"}, {"y"});
  add_output(graph, "y");
  return model;
}

TEST(OnnxCoverage, ContainerTypesAreFirstClassAndCannotBeSpoofedByAnOp) {
  using T = onnx::TypeProto;
  const auto plain = [](T* t) { return t; };
  const auto seq = [](T* t) { return t->mutable_sequence_type()->mutable_elem_type(); };
  const auto opt = [](T* t) { return t->mutable_optional_type()->mutable_elem_type(); };
  const auto opt_seq = [&](T* t) { return seq(opt(t)); };
  const auto seq_opt = [&](T* t) { return opt(seq(t)); };
  const auto map_of = [](int key) {
    return [key](T* t) {
      t->mutable_map_type()->set_key_type(key);
      return t->mutable_map_type()->mutable_value_type();
    };
  };
  std::vector<onnx::ModelProto> models = {identity_of(plain),
                                          identity_of(seq),
                                          identity_of(opt),
                                          identity_of(opt_seq),
                                          identity_of(seq_opt),
                                          identity_of(map_of(onnx::TensorProto::INT64)),
                                          identity_of(map_of(onnx::TensorProto::STRING))};
  onnx::ModelProto sparse = identity_of(plain);
  auto* sparse_type = sparse.mutable_graph()->mutable_input(0)->mutable_type();
  sparse_type->mutable_sparse_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  sparse_type->mutable_sparse_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
  models.push_back(sparse);
  std::vector<Key> keys;
  for (const auto& model : models) keys.push_back(key_of(model));
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = 0; j < i; ++j) EXPECT_NE(keys[i], keys[j]) << i << " vs " << j;
  }
  EXPECT_EQ(load(models[3]).inputs[0].type.wrappers.size(), 2u);

  // The marker node the loader once inserted for a sequence input, written by hand: a custom op.
  onnx::ModelProto spoof = identity_of(plain);
  auto* import = spoof.add_opset_import();
  import->set_domain("graphcache.onnx");
  import->set_version(1);
  auto* graph = spoof.mutable_graph();
  graph->mutable_node(0)->set_input(0, "x_seq");
  auto* marker = add_node(graph, "ContainerType", {"x"}, {"x_seq"}, "graphcache.onnx");
  auto* type = marker->add_attribute();
  type->set_name("type");
  type->set_type(onnx::AttributeProto::STRING);
  type->set_s("sequence(tensor)");
  EXPECT_NE(key_of(spoof), keys[1]);
}

// Y = local::Outer(X); Outer calls local::Inner, whose body is `inner_op`. Two Inner overloads exist
// (IR 10): "a" runs `inner_op`, "b" runs Neg; Outer calls overload `pick`.
onnx::ModelProto nested_functions(const std::string& inner_op, const std::string& pick) {
  onnx::ModelProto model = make_model();
  auto* import = model.add_opset_import();
  import->set_domain("local");
  import->set_version(1);
  auto* graph = model.mutable_graph();
  add_input(graph, "X");
  add_node(graph, "Outer", {"X"}, {"Y"}, "local");
  add_output(graph, "Y");
  const auto define = [&](const std::string& name, const std::string& overload, const std::string& op,
                          const std::string& op_domain, const std::string& call_overload) {
    auto* f = model.add_functions();
    f->set_name(name);
    f->set_domain("local");
    f->add_input("a");
    f->add_output("b");
    f->add_opset_import()->set_version(17);
    f->set_doc_string("about " + name);
    auto* node = f->add_node();
    node->set_op_type(op);
    node->set_domain(op_domain);
    node->add_input("a");
    node->add_output("b");
    if (!overload.empty()) f->GetReflection()->MutableUnknownFields(f)->AddLengthDelimited(13, overload);
    if (!call_overload.empty())
      node->GetReflection()->MutableUnknownFields(node)->AddLengthDelimited(8, call_overload);
  };
  define("Outer", "", "Inner", "local", pick);
  define("Inner", "a", inner_op, "", "");
  define("Inner", "b", "Neg", "", "");
  return model;
}

TEST(OnnxCoverage, FunctionsAreKeyedAtEveryDepthAndByOverload) {
  const Key relu = key_of(nested_functions("Relu", "a"));
  EXPECT_NE(relu, key_of(nested_functions("Sigmoid", "a")));  // a function called from a function
  EXPECT_NE(relu, key_of(nested_functions("Relu", "b")));     // another overload
  EXPECT_EQ(key_of(nested_functions("Relu", "b")), key_of(nested_functions("Sigmoid", "b")));
  onnx::ModelProto documented = nested_functions("Relu", "a");
  documented.mutable_functions(1)->set_doc_string("other words");
  EXPECT_EQ(relu, key_of(documented));  // doc strings do not compute
  // The op's definition is no attribute: a node cannot spell it.
  for (const ir::Node& node : load(nested_functions("Relu", "a")).nodes) {
    EXPECT_TRUE(node.attributes.empty());
    EXPECT_FALSE(node.definition_text().empty());
  }
}

// Key and weight fingerprint of a model (its bytes stay alive while the fingerprint reads them).
struct Identity {
  Key key;
  Digest weights;
  bool operator==(const Identity&) const = default;
};

Identity identity(const onnx::ModelProto& model) {
  const std::string bytes = model.SerializeAsString();
  const ir::Graph graph = load_onnx_bytes(bytes, "");
  const KeyResult key = compute_key(graph);
  return Identity{key.key, fingerprint_graph_weights(graph, key.structure.weight_order)};
}

// Y = X + W (W float[4,8], 32 elements: a weight slot). `edit` changes the model.
onnx::ModelProto add_weight_model(const std::function<void(onnx::GraphProto*)>& edit) {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  add_input(graph, "X", onnx::TensorProto::FLOAT, {4, 8});
  *graph->add_initializer() = float_tensor("W", {4, 8});
  add_node(graph, "Add", {"X", "W"}, {"Y"});
  add_output(graph, "Y");
  edit(graph);
  return model;
}

TEST(OnnxCoverage, InitializersListedAsGraphInputsAreKeyedOrFingerprinted) {
  const auto as_input = [](std::string raw) {
    return add_weight_model([&](onnx::GraphProto* g) {
      add_input(g, "W", onnx::TensorProto::FLOAT, {4, 8});
      if (!raw.empty()) g->mutable_initializer(0)->set_raw_data(raw);
    });
  };
  std::string changed = float_tensor("W", {4, 8}).raw_data();
  changed[5] ^= 1;
  const Identity base = identity(as_input(""));
  EXPECT_NE(base.weights, identity(as_input(changed)).weights);  // exec must not serve the old engine
  EXPECT_EQ(base.key, identity(as_input(changed)).key);          // a refittable weight: same structure
  // A small one (a shape, by value) is keyed.
  const auto reshape = [](int64_t d0) {
    onnx::ModelProto model = make_model();
    auto* g = model.mutable_graph();
    add_input(g, "X", onnx::TensorProto::FLOAT, {4, 8});
    add_input(g, "S", onnx::TensorProto::INT64, {2});
    onnx::TensorProto shape;
    shape.set_name("S");
    shape.set_data_type(onnx::TensorProto::INT64);
    shape.add_dims(2);
    shape.add_int64_data(d0);
    shape.add_int64_data(32 / d0);
    *g->add_initializer() = shape;
    add_node(g, "Reshape", {"X", "S"}, {"Y"});
    add_output(g, "Y");
    return model;
  };
  EXPECT_NE(key_of(reshape(2)), key_of(reshape(4)));
}

TEST(OnnxCoverage, InitializersInsideIfBodiesAreFingerprinted) {
  const auto if_model = [](char flip) {
    onnx::ModelProto model = make_model();
    auto* g = model.mutable_graph();
    add_input(g, "C", onnx::TensorProto::BOOL, {});
    add_input(g, "X", onnx::TensorProto::FLOAT, {4, 8});
    auto* node = add_node(g, "If", {"C"}, {"Y"});
    for (const char* branch : {"then_branch", "else_branch"}) {
      auto* attribute = node->add_attribute();
      attribute->set_name(branch);
      attribute->set_type(onnx::AttributeProto::GRAPH);
      onnx::GraphProto* body = attribute->mutable_g();
      body->set_name(branch);
      onnx::TensorProto w = float_tensor("W", {4, 8});
      if (std::string(branch) == "else_branch") (*w.mutable_raw_data())[3] ^= flip;
      *body->add_initializer() = w;
      add_node(body, "Add", {"X", "W"}, {"Z"});
      add_output(body, "Z");
    }
    add_output(g, "Y");
    return model;
  };
  const Identity base = identity(if_model(0));
  const Identity other = identity(if_model(1));
  EXPECT_EQ(base.key, other.key);
  EXPECT_NE(base.weights, other.weights);
  EXPECT_EQ(load(if_model(0)).weights.size(), 2u);  // both bodies' weights live in the model's graph
}

TEST(OnnxCoverage, TypedPayloadStringAndSparseInitializersAreFingerprinted) {
  // float16 in int32_data (one value per int32): fingerprintable, and the value matters.
  const auto half = [](int32_t first) {
    return add_weight_model([&](onnx::GraphProto* g) {
      onnx::TensorProto* w = g->mutable_initializer(0);
      w->clear_raw_data();
      w->set_data_type(onnx::TensorProto::FLOAT16);
      for (int i = 0; i < 32; ++i) w->add_int32_data(i == 0 ? first : 0x3c00);
      g->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT16);
    });
  };
  EXPECT_NE(identity(half(0x3c00)).weights, identity(half(0x4000)).weights);
  EXPECT_EQ(identity(half(0x3c00)), identity(half(0x3c00)));

  // 32 strings: a weight slot by type, its values fingerprinted.
  const auto strings = [](const std::string& first) {
    onnx::ModelProto model = make_model();
    auto* g = model.mutable_graph();
    add_input(g, "X", onnx::TensorProto::STRING, {32});
    onnx::TensorProto w;
    w.set_name("W");
    w.set_data_type(onnx::TensorProto::STRING);
    w.add_dims(32);
    for (int i = 0; i < 32; ++i) w.add_string_data(i == 0 ? first : "s");
    *g->add_initializer() = w;
    add_node(g, "Equal", {"X", "W"}, {"Y"});
    add_output(g, "Y");
    return model;
  };
  EXPECT_NE(identity(strings("a")), identity(strings("b")));

  // A sparse initializer: its indices and its values are fingerprinted; its type is not a dense one's.
  const auto sparse = [](int64_t index, float value) {
    return add_weight_model([&](onnx::GraphProto* g) {
      g->clear_initializer();
      onnx::SparseTensorProto* s = g->add_sparse_initializer();
      s->add_dims(4);
      s->add_dims(8);
      onnx::TensorProto* values = s->mutable_values();
      values->set_name("W");
      values->set_data_type(onnx::TensorProto::FLOAT);
      values->add_dims(1);
      values->add_float_data(value);
      onnx::TensorProto* indices = s->mutable_indices();
      indices->set_data_type(onnx::TensorProto::INT64);
      indices->add_dims(1);
      indices->add_int64_data(index);
    });
  };
  const Identity base = identity(sparse(3, 1.0f));
  EXPECT_NE(base.weights, identity(sparse(4, 1.0f)).weights);
  EXPECT_NE(base.weights, identity(sparse(3, 2.0f)).weights);
  EXPECT_NE(base.key, identity(add_weight_model([](onnx::GraphProto*) {})).key);
}

}  // namespace
}  // namespace graphcache::onnx_test
