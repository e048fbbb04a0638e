// Small graphs built with GraphBuilder, shared by the key and diff tests.
#pragma once

#include "graphcache/ir.hpp"

namespace graphcache::test {

using ir::Attribute;
using ir::AttrValue;
using ir::DType;
using ir::GraphBuilder;
using ir::TensorType;

inline TensorType f32(std::initializer_list<int64_t> dims) {
  return TensorType::of(DType::kFloat32, dims);
}

// y = (x - y) through op `op`, with inputs swapped when `swap`.
inline ir::Graph binary(const std::string& op, bool swap, const std::string& prefix = "") {
  GraphBuilder b;
  auto x = b.input(prefix + "x", f32({2, 3}));
  auto y = b.input(prefix + "y", f32({2, 3}));
  auto out = swap ? b.op(op, {y, x}) : b.op(op, {x, y});
  b.output(out, prefix + "out", f32({2, 3}));
  return std::move(b).build();
}

// A two-layer MLP: relu(x @ w1 + b1) @ w2, optionally with w2 == w1 (tied) and renamed everything.
inline ir::Graph mlp(bool tied = false, const std::string& prefix = "", bool reverse_nodes = false) {
  GraphBuilder b;
  auto x = b.input(prefix + "x", f32({4, 8}));
  auto w1 = b.weight(prefix + "w1", f32({8, 8}));
  auto b1 = b.weight(prefix + "b1", f32({8}));
  auto w2 = tied ? w1 : b.weight(prefix + "w2", f32({8, 8}));
  auto h = b.op("MatMul", {x, w1});
  auto hb = b.op("Add", {h, b1});
  auto r = b.op("Relu", {hb});
  auto y = b.op("MatMul", {r, w2});
  b.output(y, prefix + "y");
  ir::Graph g = std::move(b).build();
  if (reverse_nodes) {
    // Re-emit nodes in reverse order and fix references: the same graph, another storage order.
    const auto n = static_cast<uint32_t>(g.nodes.size());
    std::reverse(g.nodes.begin(), g.nodes.end());
    auto fix = [n](ir::ValueRef& ref) {
      if (ref.kind == ir::ValueRef::Kind::kNodeOutput) ref.index = n - 1 - ref.index;
    };
    for (auto& node : g.nodes)
      for (auto& in : node.inputs) fix(in);
    for (auto& o : g.outputs) fix(o.value);
  }
  return g;
}

}  // namespace graphcache::test
