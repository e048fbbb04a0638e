// The engine cache key: structure + input specs + engine-relevant compile settings + toolchain/hardware
// identity, combined with SHA-256. Never reads weight bytes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"
#include "graphcache/ir.hpp"

namespace graphcache {

// Dynamic-shape range for one graph input (an optimization profile entry), by input position.
struct InputSpec {
  uint32_t input = 0;
  std::vector<int64_t> min_shape, opt_shape, max_shape;
};

struct Setting {
  std::string name;
  std::string value;
  bool engine_relevant = true;  // false: recorded in metadata, not hashed (e.g. a log level)
};

struct KeyRequest {
  std::vector<InputSpec> input_specs;
  std::vector<Setting> settings;                 // any order; hashed sorted by name
  std::map<std::string, std::string> toolchain;  // "tensorrt" -> "10.3.0", "gpu" -> "sm_90 132SM 80GB"...
};

struct StructuralInfo {
  Digest digest;
  // weight_order[c] = index into graph.weights of the weight with canonical index c (order of first use
  // along the outputs' ordered traversal). Weights no output reaches are not listed.
  std::vector<uint32_t> weight_order;
  size_t reachable_nodes = 0;  // nodes that reach an output; the others are not part of the key
};

struct KeyParts {
  Digest structure;
  Digest input_specs;
  Digest settings;
  Digest toolchain;
};

struct KeyResult {
  Key key;
  KeyParts parts;
  StructuralInfo structure;
};

// Structural hash of the graph (its canonical form; see src/key/merkle.hpp and the README). Throws
// Error(kInvalidModel) on dangling references or cycles.
StructuralInfo structural_hash(const ir::Graph& graph);

KeyResult compute_key(const ir::Graph& graph, const KeyRequest& request = {});

// Explains why two graphs' structural digests differ: the first differing output / node / attribute /
// operand found walking back from the outputs, in human-readable lines. Empty when they are identical.
std::vector<std::string> explain_difference(const ir::Graph& a, const ir::Graph& b);

}  // namespace graphcache
