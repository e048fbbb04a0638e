// Structural validation shared by every front end: references in range, subgraph captures consistent,
// no cycles (topological_order.cpp); subgraph nesting is bounded.
// Every key runs this, so the success path allocates no strings: a message is built only on failure.
#include <string>

#include "graphcache/error.hpp"
#include "graphcache/ir.hpp"
#include "graphcache/limits.hpp"

namespace graphcache::ir {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(ErrorKind::kInvalidModel, where + ": " + what);
}

// Whether `ref` is in range: the check itself, inlined into the per-edge loop.
inline bool ref_ok(const Graph& g, const ValueRef& ref, size_t captures) {
  switch (ref.kind) {
    case ValueRef::Kind::kNone:
      return true;
    case ValueRef::Kind::kNodeOutput:
      return ref.index < g.nodes.size() && ref.output < g.nodes[ref.index].outputs.size();
    case ValueRef::Kind::kGraphInput:
      return ref.index < g.inputs.size();
    case ValueRef::Kind::kWeight:
      return ref.index < g.weights.size();
    case ValueRef::Kind::kCapture:
      return ref.index < captures;
  }
  return false;
}

// What is wrong with `ref` (called once ref_ok said something is), or "" when it is in range.
std::string ref_problem(const Graph& g, const ValueRef& ref, size_t captures) {
  switch (ref.kind) {
    case ValueRef::Kind::kNone:
      return {};
    case ValueRef::Kind::kNodeOutput:
      if (ref.index >= g.nodes.size())
        return "reference to node " + std::to_string(ref.index) + " out of range";
      if (ref.output >= g.nodes[ref.index].outputs.size())
        return "reference to output " + std::to_string(ref.output) + " of node " + std::to_string(ref.index) +
               " which has " + std::to_string(g.nodes[ref.index].outputs.size()) + " outputs";
      return {};
    case ValueRef::Kind::kGraphInput:
      if (ref.index >= g.inputs.size())
        return "reference to graph input " + std::to_string(ref.index) + " out of range";
      return {};
    case ValueRef::Kind::kWeight:
      if (ref.index >= g.weights.size())
        return "reference to weight " + std::to_string(ref.index) + " out of range";
      return {};
    case ValueRef::Kind::kCapture:
      if (ref.index >= captures)
        return "reference to captured value " + std::to_string(ref.index) + " out of range";
      return {};
  }
  return "reference of unknown kind";
}

std::string node_where(const Node& node, size_t i) {
  return "node " + std::to_string(i) + " (" + node.op->name +
         (node.name.empty() ? "" : " '" + node.name + "'") + ")";
}

void validate_graph(const Graph& g, size_t captures, int depth, std::vector<uint32_t>* order);

void check_attr(const AttrValue& value, const Node& node, size_t i, const Attribute& attr, int depth) {
  auto where = [&] { return node_where(node, i) + " attribute '" + attr.name + "'"; };
  if (const auto* operand = std::get_if<OperandIndex>(&value.value)) {
    if (operand->index >= node.inputs.size())
      fail(where(), "operand index " + std::to_string(operand->index) + " out of range");
  } else if (const auto* seq = std::get_if<Sequence>(&value.value)) {
    for (const auto& item : seq->items) check_attr(item, node, i, attr, depth);
  } else if (const auto* sub = std::get_if<GraphPtr>(&value.value)) {
    if (!*sub) fail(where(), "null subgraph");
    validate_graph(**sub, node.captures.size(), depth + 1, nullptr);
  }
}

void validate_graph(const Graph& g, size_t captures, int depth, std::vector<uint32_t>* order) {
  if (depth > kMaxNestingDepth)
    fail("graph", "subgraphs nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  const size_t n = g.nodes.size();
  // Every node reading only nodes stored before it (front ends store nodes in file order, and files are
  // almost always sorted): acyclic, and the stored order is a topological order; no edge arrays needed.
  bool sorted = true;
  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.nodes[i];
    auto check_edge = [&](const ValueRef& ref) {
      if (!ref_ok(g, ref, captures)) fail(node_where(node, i), ref_problem(g, ref, captures));
      if (ref.kind == ValueRef::Kind::kNodeOutput && ref.index >= i) sorted = false;
    };
    for (const auto& ref : node.inputs) check_edge(ref);
    for (const auto& ref : node.captures) check_edge(ref);
    for (const auto& attr : node.attributes) check_attr(attr.value, node, i, attr, depth);
  }
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    if (!ref_ok(g, g.outputs[o].value, captures))
      fail("graph output " + std::to_string(o), ref_problem(g, g.outputs[o].value, captures));
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const std::optional<ValueRef>& d = g.inputs[i].default_value;
    if (!d) continue;
    if (d->kind == ValueRef::Kind::kNone || d->kind == ValueRef::Kind::kGraphInput)
      fail("graph input " + std::to_string(i), "a default value must be a weight, node output or capture");
    if (!ref_ok(g, *d, captures))
      fail("default of graph input " + std::to_string(i), ref_problem(g, *d, captures));
  }
  if (sorted) {
    if (order) {
      order->resize(n);
      for (size_t i = 0; i < n; ++i) (*order)[i] = static_cast<uint32_t>(i);
    }
    return;
  }
  TopologicalOrder topological = topological_order(g);
  if (topological.blocked) {
    const uint32_t i = *topological.blocked;
    fail("node " + std::to_string(i) + " (" + g.nodes[i].op->name + ")", "is part of a cycle");
  }
  if (order) *order = std::move(topological.order);
}

}  // namespace

std::vector<uint32_t> validate(const Graph& graph) {
  std::vector<uint32_t> order;
  validate_graph(graph, graph.capture_names.size(), 0, &order);
  return order;
}

}  // namespace graphcache::ir
