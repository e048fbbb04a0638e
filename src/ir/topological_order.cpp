// Kahn's algorithm over node-output edges, shared by ir::validate and the ONNX front end's cycle check.
// Iterative, so a huge graph cannot overflow the stack.
#include <cstdint>
#include <vector>

#include "graphcache/ir.hpp"

namespace graphcache::ir {

TopologicalOrder topological_order(const Graph& graph) {
  const size_t n = graph.nodes.size();
  // Edges in compressed form (the consumers of node k are consumers[first[k]..first[k+1])): two flat
  // arrays instead of one vector per node.
  std::vector<uint32_t> pending(n, 0), first(n + 1, 0);
  size_t edges = 0;
  for (size_t i = 0; i < n; ++i) {
    for (const auto* refs : {&graph.nodes[i].inputs, &graph.nodes[i].captures}) {
      for (const ValueRef& ref : *refs) {
        if (ref.kind != ValueRef::Kind::kNodeOutput) continue;
        ++pending[i];
        ++first[ref.index + 1];
        ++edges;
      }
    }
  }
  for (size_t k = 0; k < n; ++k) first[k + 1] += first[k];
  std::vector<uint32_t> consumers(edges);
  {
    std::vector<uint32_t> fill(first.begin(), first.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      for (const auto* refs : {&graph.nodes[i].inputs, &graph.nodes[i].captures}) {
        for (const ValueRef& ref : *refs) {
          if (ref.kind == ValueRef::Kind::kNodeOutput)
            consumers[fill[ref.index]++] = static_cast<uint32_t>(i);
        }
      }
    }
  }
  TopologicalOrder result;
  result.order.reserve(n);
  std::vector<uint32_t> ready;
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push_back(static_cast<uint32_t>(i));
  }
  while (!ready.empty()) {
    const uint32_t node = ready.back();
    ready.pop_back();
    result.order.push_back(node);
    for (uint32_t e = first[node]; e < first[node + 1]; ++e) {
      if (--pending[consumers[e]] == 0) ready.push_back(consumers[e]);
    }
  }
  if (result.order.size() == n) return result;
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] != 0) {
      result.blocked = static_cast<uint32_t>(i);
      break;
    }
  }
  return result;
}

}  // namespace graphcache::ir
