#include "capture_order.hpp"

#include <algorithm>

namespace graphcache::onnx_frontend {

namespace {

// Appends capture indices in order of first use (pre-order DFS from the outputs, operands in order).
void collect_first_use(const ir::Graph& body, std::vector<bool>& seen, std::vector<uint32_t>& order) {
  std::vector<bool> visited(body.nodes.size(), false);
  std::vector<ir::ValueRef> stack;
  // Roots in the key's walk order: input defaults (declared order), then outputs; the stack pops last first.
  for (auto it = body.outputs.rbegin(); it != body.outputs.rend(); ++it) stack.push_back(it->value);
  for (auto it = body.inputs.rbegin(); it != body.inputs.rend(); ++it) {
    if (it->default_value) stack.push_back(*it->default_value);
  }
  while (!stack.empty()) {
    const ir::ValueRef ref = stack.back();
    stack.pop_back();
    if (ref.kind == ir::ValueRef::Kind::kCapture && ref.index < seen.size() && !seen[ref.index]) {
      seen[ref.index] = true;
      order.push_back(ref.index);
    } else if (ref.kind == ir::ValueRef::Kind::kNodeOutput && ref.index < visited.size() &&
               !visited[ref.index]) {
      visited[ref.index] = true;
      const ir::Node& node = body.nodes[ref.index];
      for (auto c = node.captures.rbegin(); c != node.captures.rend(); ++c) stack.push_back(*c);
      for (auto i = node.inputs.rbegin(); i != node.inputs.rend(); ++i) stack.push_back(*i);
    }
  }
}

void renumber(ir::ValueRef& ref, const std::vector<uint32_t>& new_index) {
  if (ref.kind == ir::ValueRef::Kind::kCapture) ref.index = new_index[ref.index];
}

}  // namespace

void canonicalize_captures(const std::vector<ir::Graph*>& bodies, std::vector<ir::ValueRef>& captures,
                           std::vector<std::string>& names) {
  const size_t count = captures.size();
  std::vector<bool> seen(count, false);
  std::vector<uint32_t> order;
  for (const ir::Graph* body : bodies) collect_first_use(*body, seen, order);
  for (uint32_t i = 0; i < count; ++i) {
    if (!seen[i]) order.push_back(i);  // read only by nodes that reach no output
  }
  std::vector<uint32_t> new_index(count);
  for (uint32_t position = 0; position < count; ++position) new_index[order[position]] = position;

  std::vector<ir::ValueRef> sorted_captures(count);
  std::vector<std::string> sorted_names(count);
  for (uint32_t old = 0; old < count; ++old) {
    sorted_captures[new_index[old]] = captures[old];
    sorted_names[new_index[old]] = std::move(names[old]);
  }
  captures = std::move(sorted_captures);
  names = std::move(sorted_names);
  for (ir::Graph* body : bodies) {
    for (ir::Node& node : body->nodes) {
      for (ir::ValueRef& ref : node.inputs) renumber(ref, new_index);
      for (ir::ValueRef& ref : node.captures) renumber(ref, new_index);
    }
    for (ir::GraphOutput& output : body->outputs) renumber(output.value, new_index);
    for (ir::GraphInput& input : body->inputs) {
      if (input.default_value) renumber(*input.default_value, new_index);
    }
    body->capture_names = names;
  }
}

}  // namespace graphcache::onnx_frontend
