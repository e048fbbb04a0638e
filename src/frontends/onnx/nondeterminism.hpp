// Which ONNX nodes draw random numbers. The key numbers such nodes by walk order so that two of them are
// never merged into one value (two draws are two values), see ir::Node::nondeterministic.
#pragma once

#include "graphcache/ir.hpp"

namespace graphcache::onnx_frontend {

// Sets Node::nondeterministic on the graph's random nodes (not its subgraphs: each body is marked when it
// is converted). ONNX schemas carry no "nondeterministic" flag, so the rule is by name, and errs towards
// marking (a marked node costs at most a cache miss, an unmarked random node a false hit):
// - RandomNormal, RandomUniform, RandomNormalLike, RandomUniformLike, Multinomial, Bernoulli, in any
//   domain, and any op whose name contains "Random" or "Dropout" outside the default domain
//   (com.microsoft BiasDropout, ...);
// - Dropout of opset 12+ unless its training_mode input is omitted or a by-value constant false; Dropout
//   of opset < 7 unless its is_test attribute is set (opsets 7..11 have no training mode).
void mark_nondeterministic(ir::Graph& graph);

}  // namespace graphcache::onnx_frontend
