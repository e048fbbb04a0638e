#include <iterator>

#include "graphcache/ir.hpp"

namespace graphcache::ir {

ValueRef GraphBuilder::input(std::string name, TensorType type) {
  graph_.inputs.push_back(GraphInput{std::move(name), std::move(type)});
  return ValueRef::graph_input(static_cast<uint32_t>(graph_.inputs.size() - 1));
}

ValueRef GraphBuilder::weight(std::string name, TensorType type, WeightData data) {
  graph_.weights.push_back(WeightSlot{std::move(name), std::move(type), std::move(data)});
  return ValueRef::weight(static_cast<uint32_t>(graph_.weights.size() - 1));
}

std::vector<ValueRef> GraphBuilder::node(OpId op, std::vector<ValueRef> inputs,
                                         std::vector<Attribute> attributes, size_t num_outputs,
                                         std::string name) {
  Node n;
  n.op = std::move(op);
  n.inputs.assign(inputs.begin(), inputs.end());
  n.attributes.assign(std::make_move_iterator(attributes.begin()), std::make_move_iterator(attributes.end()));
  n.name = name.empty() ? "n" + std::to_string(name_counter_++) : std::move(name);
  std::vector<ValueRef> outs;
  const auto index = static_cast<uint32_t>(graph_.nodes.size());
  for (size_t k = 0; k < num_outputs; ++k) {
    n.outputs.push_back(NodeOutput{n.name + ":" + std::to_string(k), {}});
    outs.push_back(ValueRef::node_output(index, static_cast<uint32_t>(k)));
  }
  graph_.nodes.push_back(std::move(n));
  return outs;
}

ValueRef GraphBuilder::op(const std::string& op_type, std::vector<ValueRef> inputs,
                          std::vector<Attribute> attributes) {
  return node(OpId{"", op_type, "", 0}, std::move(inputs), std::move(attributes)).front();
}

void GraphBuilder::output(ValueRef value, std::string name, TensorType type) {
  graph_.outputs.push_back(GraphOutput{value, std::move(name), std::move(type)});
}

Graph GraphBuilder::build() && {
  validate(graph_);
  return std::move(graph_);
}

}  // namespace graphcache::ir
