// Structural validation shared by every front end: references in range, subgraph captures consistent,
// no cycles. Iterative (Kahn) so huge graphs cannot overflow the stack; subgraph nesting is bounded.
#include <string>

#include "graphcache/error.hpp"
#include "graphcache/ir.hpp"
#include "ir_limits.hpp"

namespace graphcache::ir {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(ErrorKind::kInvalidModel, where + ": " + what);
}

void check_ref(const Graph& g, const ValueRef& ref, size_t captures, const std::string& where) {
  switch (ref.kind) {
    case ValueRef::Kind::kNone:
      return;
    case ValueRef::Kind::kNodeOutput:
      if (ref.index >= g.nodes.size())
        fail(where, "reference to node " + std::to_string(ref.index) + " out of range");
      if (ref.output >= g.nodes[ref.index].outputs.size())
        fail(where, "reference to output " + std::to_string(ref.output) + " of node " +
                        std::to_string(ref.index) + " which has " +
                        std::to_string(g.nodes[ref.index].outputs.size()) + " outputs");
      return;
    case ValueRef::Kind::kGraphInput:
      if (ref.index >= g.inputs.size())
        fail(where, "reference to graph input " + std::to_string(ref.index) + " out of range");
      return;
    case ValueRef::Kind::kWeight:
      if (ref.index >= g.weights.size())
        fail(where, "reference to weight " + std::to_string(ref.index) + " out of range");
      return;
    case ValueRef::Kind::kCapture:
      if (ref.index >= captures)
        fail(where, "reference to captured value " + std::to_string(ref.index) + " out of range");
      return;
  }
  fail(where, "reference of unknown kind");
}

void validate_graph(const Graph& g, size_t captures, int depth, std::vector<uint32_t>* order);

void check_attr(const AttrValue& value, const Node& node, int depth, const std::string& where) {
  if (const auto* operand = std::get_if<OperandIndex>(&value.value)) {
    if (operand->index >= node.inputs.size())
      fail(where, "operand index " + std::to_string(operand->index) + " out of range");
  } else if (const auto* seq = std::get_if<Sequence>(&value.value)) {
    for (const auto& item : seq->items) check_attr(item, node, depth, where);
  } else if (const auto* sub = std::get_if<GraphPtr>(&value.value)) {
    if (!*sub) fail(where, "null subgraph");
    validate_graph(**sub, node.captures.size(), depth + 1, nullptr);
  }
}

void validate_graph(const Graph& g, size_t captures, int depth, std::vector<uint32_t>* order) {
  if (depth > kMaxSubgraphDepth)
    fail("graph", "subgraphs nested deeper than " + std::to_string(kMaxSubgraphDepth) + " levels");
  const size_t n = g.nodes.size();
  std::vector<uint32_t> pending(n, 0);
  std::vector<std::vector<uint32_t>> consumers(n);
  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.nodes[i];
    const std::string where = "node " + std::to_string(i) + " (" + node.op.name +
                              (node.name.empty() ? "" : " '" + node.name + "'") + ")";
    auto add_edge = [&](const ValueRef& ref) {
      check_ref(g, ref, captures, where);
      if (ref.kind == ValueRef::Kind::kNodeOutput) {
        ++pending[i];
        consumers[ref.index].push_back(static_cast<uint32_t>(i));
      }
    };
    for (const auto& ref : node.inputs) add_edge(ref);
    for (const auto& ref : node.captures) add_edge(ref);
    for (const auto& attr : node.attributes)
      check_attr(attr.value, node, depth, where + " attribute '" + attr.name + "'");
  }
  for (size_t o = 0; o < g.outputs.size(); ++o)
    check_ref(g, g.outputs[o].value, captures, "graph output " + std::to_string(o));

  std::vector<uint32_t> ready, topo;
  topo.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push_back(static_cast<uint32_t>(i));
  while (!ready.empty()) {
    uint32_t i = ready.back();
    ready.pop_back();
    topo.push_back(i);
    for (uint32_t c : consumers[i])
      if (--pending[c] == 0) ready.push_back(c);
  }
  if (topo.size() != n) {
    for (size_t i = 0; i < n; ++i)
      if (pending[i] != 0)
        fail("node " + std::to_string(i) + " (" + g.nodes[i].op.name + ")", "is part of a cycle");
  }
  if (order) *order = std::move(topo);
}

}  // namespace

std::vector<uint32_t> validate(const Graph& graph) {
  std::vector<uint32_t> order;
  validate_graph(graph, graph.capture_names.size(), 0, &order);
  return order;
}

}  // namespace graphcache::ir
