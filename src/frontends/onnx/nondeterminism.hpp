// Which ONNX nodes draw random numbers. The key numbers such nodes by walk order so that two of them are
// never merged into one value (two draws are two values), see ir::Node::nondeterministic.
#pragma once

#include "graphcache/ir.hpp"

namespace graphcache::onnx_frontend {

// ONNX schemas carry no "nondeterministic" flag, so the rule is by name, and errs towards marking (a
// marked node costs at most a cache miss, an unmarked random node a false hit):
// - RandomNormal, RandomUniform, RandomNormalLike, RandomUniformLike, Multinomial, Bernoulli, in any
//   domain, and any op whose name contains "Random" or "Dropout" outside the default domain
//   (com.microsoft BiasDropout, ...);
// - Dropout of opset 12+ unless its training_mode input is omitted or a by-value constant false; Dropout
//   of opset < 7 unless its is_test attribute is set (opsets 7..11 have no training mode).
//
// The converter marks each node as it converts it (the node is in cache then: a separate pass would read
// every node of a million-node graph from memory once more). The one case that reads another node, a
// Dropout's training_mode operand, waits until every node is converted (files need not be sorted).

// Sets node.nondeterministic when the rule says so from the node alone. Returns true for a default-domain
// Dropout of opset 12+ with a training_mode operand: call mark_dropout on it once all nodes are converted.
bool mark_if_random(ir::Node& node);

// Decides the Dropout that mark_if_random deferred: random unless `graph.nodes[index]`'s training_mode
// operand is a by-value constant false.
void mark_dropout(ir::Graph& graph, uint32_t index);

}  // namespace graphcache::onnx_frontend
