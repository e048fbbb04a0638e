// Canonical numbering of the values a node's subgraphs capture from the enclosing graph.
//
// Captures are first numbered as name lookups happen, which depends on the order nodes are written in.
// Renumbering them by first use along each body's ordered traversal from its outputs (bodies in attribute
// name order, operands in order) makes the numbering independent of names and node order, so a rewritten
// but equivalent model yields the same IR.
#pragma once

#include <string>
#include <vector>

#include "graphcache/ir.hpp"

namespace graphcache::onnx_frontend {

// Reorders `captures` / `names` (the owning node's lists) and rewrites every ValueRef::capture in `bodies`.
void canonicalize_captures(const std::vector<ir::Graph*>& bodies, std::vector<ir::ValueRef>& captures,
                           std::vector<std::string>& names);

}  // namespace graphcache::onnx_frontend
