// The engine cache key: structure + input specs + engine-relevant compile settings + toolchain/hardware
// identity, combined with SHA-256. Never reads weight bytes.
//
// Key composition lives here and only here: the CLI and the Python package fill a KeyRequest and call
// compute_key. The facts the library itself keys (graph facts of front ends, the refit mode, the weight
// fingerprint) are settings under reserved names (reserved_setting_names()); a new one is one typed
// KeyRequest field (or GraphFact) plus one row of that registry (src/key/reserved_settings.cpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
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

// How an engine may take new weights (DESIGN.md "Facts from other compilers' caches"). Only kRefittable
// engines may be refit with other weights; the weight-bound modes bind the weight fingerprint into the key.
enum class RefitMode { kRefittable, kRefitIdentical, kNone };

const char* to_string(RefitMode mode) noexcept;  // "refittable", "refit_identical", "none"
// Throws Error(kInvalidArgument) naming the valid spellings.
RefitMode parse_refit_mode(std::string_view text);
inline bool is_weight_bound(RefitMode mode) {
  return mode != RefitMode::kRefittable;
}

struct KeyRequest {
  std::vector<InputSpec> input_specs;
  std::vector<Setting> settings;                 // any order; hashed sorted by name; no reserved names
  std::map<std::string, std::string> toolchain;  // "tensorrt" -> "10.3.0", "gpu" -> "sm_90 132SM 80GB"...
  // Keyed as the reserved setting "graphcache.refit_mode" when set (unset: not keyed, e.g. `graphcache key`).
  std::optional<RefitMode> refit_mode;
  // The weight-fingerprint key part (fingerprint.hpp), keyed as "graphcache.weight_fingerprint" when set.
  // Required by a weight-bound refit mode (compute_key throws Error(kInvalidArgument) without it).
  std::optional<Digest> weight_fingerprint;
  // Facts the caller keys beyond the graph, under reserved names (`graphcache exec`: its compiler's
  // arguments), hashed like graph facts.
  std::vector<ir::GraphFact> facts;
};

// Setting names the library keys itself: graph facts of the front ends, the refit mode, the weight
// fingerprint, `graphcache exec`'s arguments. A caller's setting may not use one (compute_key throws
// Error(kInvalidArgument) "setting name '...' is reserved"); a GraphFact must use one.
const std::vector<std::string_view>& reserved_setting_names();
bool is_reserved_setting_name(std::string_view name);

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
  std::optional<RefitMode> refit_mode;       // as requested
  std::optional<Digest> weight_fingerprint;  // as requested
};

// Structural hash of the graph (its canonical form; see src/key/merkle.hpp and the README). Throws
// Error(kInvalidModel) on dangling references or cycles.
StructuralInfo structural_hash(const ir::Graph& graph);

// What compute_key needs of a graph once it has been walked: the structure, the input count (profiles are
// checked against it) and the graph facts. Lets a caller key again (other settings, a weight fingerprint
// computed from the canonical slot order) without a second walk.
struct HashedGraph {
  StructuralInfo structure;
  size_t input_count = 0;
  std::vector<ir::GraphFact> facts;
};
HashedGraph hash_graph(const ir::Graph& graph);  // the one walk

KeyResult compute_key(const HashedGraph& graph, const KeyRequest& request = {});
KeyResult compute_key(const ir::Graph& graph, const KeyRequest& request = {});  // hash_graph + the above

// Explains why two graphs' keys differ: differing graph facts first, then the first differing output /
// node / attribute / operand found walking back from the outputs, in human-readable lines. Empty when the
// structures and facts are identical.
std::vector<std::string> explain_difference(const ir::Graph& a, const ir::Graph& b);

}  // namespace graphcache
