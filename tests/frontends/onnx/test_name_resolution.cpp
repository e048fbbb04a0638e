// Name resolution of the model's graph (src/frontends/onnx/deferred_names.hpp): operands found among the
// latest definitions or joined with every definition after the nodes are declared; names defined twice
// reported where the map reported them; a hash shared by two names never joins them.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "deferred_names.hpp"
#include "graphcache/error.hpp"
#include "onnx_test_util.hpp"

namespace graphcache::onnx_test {
namespace {

using ir::ValueRef;
using onnx_frontend::DeferredNames;
using onnx_frontend::DefinitionSite;

uint64_t one_hash_for_all(std::string_view) {
  return 42;
}
uint64_t hash_by_length(std::string_view name) {
  return name.size() % 2;
}
// Names spread over parts (the top bits) whose low 32 bits, the join's tags, take only 16 values.
uint64_t few_tags(std::string_view name) {
  const uint64_t h = std::hash<std::string_view>{}(name);
  return h << 32 | (h >> 40) % 16;
}

DefinitionSite node_site(uint32_t node) {
  return DefinitionSite{DefinitionSite::Kind::kNode, node};
}

const DeferredNames::HashFn kHashes[] = {nullptr, &one_hash_for_all, &hash_by_length, &few_tags};

TEST(DeferredNames, EveryUseJoinsTheDefinitionOfItsNameWhateverTheHashes) {
  for (const DeferredNames::HashFn hash : kHashes) {
    std::vector<std::string> names;
    for (int i = 0; i < 300; ++i) names.push_back("value_" + std::to_string(i));
    DeferredNames table(names.size(), hash);
    std::vector<std::optional<ValueRef>> found(names.size() + 2);
    // Each name used right after its definition (found at once, or deferred where the latest-names table
    // kept another name of that hash) and again at the end (deferred unless still the latest).
    for (uint32_t i = 0; i < names.size(); ++i) {
      table.define(names[i], ValueRef::node_output(i), node_site(i));
      if (const std::optional<ValueRef> ref = table.find_or_defer(names[i], i)) found[i] = ref;
    }
    table.defer("value_", names.size());          // no such name, a prefix of all
    table.defer("value_3000", names.size() + 1);  // no such name, one of them a prefix of it
    const auto twice = table.join([&](uint64_t use, ValueRef ref) { found[use] = ref; }, [](const char*) {});
    EXPECT_FALSE(twice);
    for (uint32_t i = 0; i < names.size(); ++i) EXPECT_EQ(found[i], ValueRef::node_output(i)) << names[i];
    EXPECT_FALSE(found[names.size()]);
    EXPECT_FALSE(found[names.size() + 1]);
  }
}

TEST(DeferredNames, ManyPartsJoinForwardAndBackwardUses) {
  for (const DeferredNames::HashFn hash : {DeferredNames::HashFn{nullptr}, &few_tags}) {
    // Over 4096 definitions: the join splits them by hash into parts.
    std::vector<std::string> names;
    for (int i = 0; i < 50000; ++i) names.push_back("n" + std::to_string(i));
    DeferredNames table(names.size(), hash);
    for (uint32_t i = 0; i < names.size(); ++i) table.defer(names[names.size() - 1 - i], i);  // before any
    for (uint32_t i = 0; i < names.size(); ++i)
      table.define(names[i], ValueRef::node_output(i, i % 3), node_site(i));
    std::vector<uint64_t> order;
    std::vector<std::optional<ValueRef>> found(names.size());
    const auto twice = table.join(
        [&](uint64_t use, ValueRef ref) {
          order.push_back(use);
          found[use] = ref;
        },
        [](const char*) {});
    ASSERT_FALSE(twice);
    for (uint32_t i = 0; i < names.size(); ++i) {
      const uint32_t defined = static_cast<uint32_t>(names.size() - 1 - i);
      EXPECT_EQ(found[i], ValueRef::node_output(defined, defined % 3));
    }
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));  // in the order the uses were deferred
  }
}

TEST(DeferredNames, TheEarliestSecondDefinitionIsReportedWithTheFirst) {
  for (const DeferredNames::HashFn hash : kHashes) {
    DeferredNames table(8, hash);
    for (const auto& [name, node] : std::vector<std::pair<std::string_view, uint32_t>>{
             {"a", 0}, {"bb", 1}, {"c", 2}, {"bb", 3}, {"a", 4}, {"bb", 5}}) {
      table.define(name, ValueRef::node_output(node), node_site(node));
    }
    table.defer("c", 0);
    bool found = false;
    const auto twice = table.join([&](uint64_t, ValueRef) { found = true; }, [](const char*) {});
    ASSERT_TRUE(twice);
    EXPECT_EQ(twice->name, "bb");
    EXPECT_EQ(twice->first.index, 1u);
    EXPECT_EQ(twice->second.index, 3u);
    EXPECT_FALSE(found);  // a failed join reports no use
  }
}

// A chain of `count` Add nodes named n0, n1...: node i reads node i-1 and node i-`skip` (the graph input
// before that), far beyond the latest-names table at skip = 20000; `reversed` lists the nodes backwards.
onnx::ModelProto far_reading_chain(int count, int skip, bool reversed) {
  onnx::ModelProto model = make_model();
  auto* graph = model.mutable_graph();
  add_input(graph, "x", 1, {4});
  for (int i = 0; i < count; ++i) {
    const std::string previous = i == 0 ? "x" : "y" + std::to_string(i - 1);
    const std::string far = i >= skip ? "y" + std::to_string(i - skip) : "x";
    add_node(graph, "Add", {previous, far}, {"y" + std::to_string(i)})->set_name("n" + std::to_string(i));
  }
  if (reversed) std::reverse(graph->mutable_node()->begin(), graph->mutable_node()->end());
  add_output(graph, "y" + std::to_string(count - 1));
  return model;
}

TEST(OnnxNames, OperandsFarBackAndForwardAreWiredToTheirDefinitions) {
  constexpr int kCount = 45000, kSkip = 20000;
  for (const bool reversed : {false, true}) {
    const ir::Graph graph = load(far_reading_chain(kCount, kSkip, reversed));
    ASSERT_EQ(graph.nodes.size(), size_t{kCount});
    std::unordered_map<std::string, uint32_t> index;
    for (uint32_t k = 0; k < graph.nodes.size(); ++k) index.emplace(std::string(graph.nodes[k].name), k);
    for (int i = 0; i < kCount; ++i) {
      const ir::Node& node = graph.nodes[index.at("n" + std::to_string(i))];
      const auto expected = [&](int j) {
        return j < 0 ? ValueRef::graph_input(0) : ValueRef::node_output(index.at("n" + std::to_string(j)));
      };
      ASSERT_EQ(node.inputs.size(), 2u);
      ASSERT_EQ(node.inputs[0], expected(i - 1)) << i;
      ASSERT_EQ(node.inputs[1], expected(i >= kSkip ? i - kSkip : -1)) << i;
    }
    ASSERT_EQ(graph.outputs.size(), 1u);
    EXPECT_EQ(graph.outputs[0].value, ValueRef::node_output(index.at("n" + std::to_string(kCount - 1))));
  }
  EXPECT_EQ(key_of(far_reading_chain(kCount, kSkip, false)), key_of(far_reading_chain(kCount, kSkip, true)));
  EXPECT_NE(key_of(far_reading_chain(kCount, kSkip, false)),
            key_of(far_reading_chain(kCount, kSkip + 1, false)));
}

TEST(OnnxNames, NamesDefinedTwiceAreRefusedWhereTheSecondDefinitionIs) {
  const auto refused = [](const onnx::ModelProto& model, const std::string& what, const std::string& where) {
    expect_error([&] { load(model); }, ErrorKind::kInvalidModel, what);
    expect_error([&] { load(model); }, ErrorKind::kInvalidModel, where);
  };
  {  // far apart: the first definition left the latest-names table long before
    onnx::ModelProto model = far_reading_chain(30000, 30000, false);
    model.mutable_graph()->mutable_node(25000)->set_output(0, "y7");
    refused(model, "value 'y7' is defined twice", "graph.node[25000] ('n25000', Add)");
  }
  {  // two initializers
    onnx::ModelProto model = matmul_with_weight({4, 4});
    *model.mutable_graph()->add_initializer() = float_tensor("W", {4, 4});
    refused(model, "initializer 'W' is defined twice", "graph.initializer[1] ('W')");
  }
  {  // two graph inputs
    onnx::ModelProto model = matmul_with_weight({4, 4});
    add_input(model.mutable_graph(), "x", 1, {2, 4});
    refused(model, "value 'x' is defined twice", "graph.input[1] ('x')");
  }
  {  // a node output named as an initializer
    onnx::ModelProto model = matmul_with_weight({4, 4});
    add_node(model.mutable_graph(), "Relu", {"y"}, {"W"});
    refused(model, "value 'W' is defined twice", "graph.node[1] ('Relu_W', Relu)");
  }
  {  // a second initializer for a graph input that has one (its default) already
    onnx::ModelProto model = matmul_with_weight({4, 4});
    *model.mutable_graph()->add_initializer() = float_tensor("x", {2, 4});
    *model.mutable_graph()->add_initializer() = float_tensor("x", {2, 4});
    refused(model, "initializer 'x' is defined twice", "graph.initializer[2] ('x')");
  }
  {  // a sparse initializer for a graph input that has a default already, and one named as an initializer
    const auto with_sparse = [](const std::string& name) {
      onnx::ModelProto model = matmul_with_weight({4, 4});
      *model.mutable_graph()->add_initializer() = float_tensor("x", {2, 4});
      onnx::SparseTensorProto* sparse = model.mutable_graph()->add_sparse_initializer();
      *sparse->mutable_values() = float_tensor(name, {1});
      *sparse->mutable_indices() = onnx::TensorProto();
      sparse->mutable_indices()->set_data_type(onnx::TensorProto::INT64);
      sparse->mutable_indices()->add_dims(1);
      sparse->mutable_indices()->add_int64_data(0);
      sparse->add_dims(8);
      return model;
    };
    refused(with_sparse("x"), "initializer 'x' is defined twice", "graph.sparse_initializer[0] ('x')");
    refused(with_sparse("W"), "initializer 'W' is defined twice", "graph.sparse_initializer[0] ('W')");
  }
}

TEST(OnnxNames, AnUndefinedOperandOrOutputIsNamedWhereItIsRead) {
  onnx::ModelProto operand = far_reading_chain(30000, 30000, false);
  operand.mutable_graph()->mutable_node(20000)->set_input(1, "y29999x");
  expect_error([&] { load(operand); }, ErrorKind::kInvalidModel, "input 'y29999x' is not defined");
  expect_error([&] { load(operand); }, ErrorKind::kInvalidModel, "graph.node[20000]");
  onnx::ModelProto output = far_reading_chain(100, 100, false);
  add_output(output.mutable_graph(), "y100");
  expect_error([&] { load(output); }, ErrorKind::kInvalidModel, "graph output is not produced");
}

}  // namespace
}  // namespace graphcache::onnx_test
