// Editing helpers for onnx::ModelProto used by the soundness harness: structural descriptions of values
// (independent of graphcache, to decide which mutations are real by construction), renaming, and
// re-emitting nodes in another topological order.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace graphcache::onnx_test {

// Mirrors the loader's rule for initializers keyed by value (OnnxLoadOptions defaults).
bool initializer_keyed_by_value(const onnx::TensorProto& tensor);

// Opset version the model imports for `domain` ("" and "ai.onnx" alike), or -1.
int64_t imported_opset(const onnx::ModelProto& model, const std::string& domain);

// The op schema's attribute defaults the node does not set (empty when the op has no known schema).
std::vector<onnx::AttributeProto> missing_defaults(const onnx::ModelProto& model,
                                                   const onnx::NodeProto& node);

// Structural fingerprints of the values of a model's main graph, computed from the protobuf alone:
// names, node order, attribute order and explicit defaults do not matter; weights (initializers the
// loader does not key by value) count by dtype and shape only, as the key treats them.
class ValueDescriber {
 public:
  explicit ValueDescriber(const onnx::ModelProto& model);
  uint64_t describe(const std::string& value);
  // Indices of nodes that some graph output depends on.
  const std::vector<bool>& reaches_output() const { return reaches_output_; }
  // Index of the node producing `value`, if a node does.
  std::optional<size_t> producer(const std::string& value) const;
  // Nodes that (transitively) consume an output of `node`, including through subgraph references.
  std::set<size_t> descendants(size_t node) const;
  const onnx::GraphProto& graph() const { return model_.graph(); }

 private:
  uint64_t describe_node(size_t node);
  const onnx::ModelProto& model_;
  std::unordered_map<std::string, std::pair<size_t, int>> producer_;  // value -> (node, output index)
  std::unordered_map<std::string, int> input_index_;
  std::unordered_map<std::string, const onnx::TensorProto*> initializers_;
  std::unordered_map<std::string, uint64_t> value_memo_;
  std::unordered_map<size_t, uint64_t> node_memo_;
  std::vector<std::vector<std::string>> node_reads_;  // operands + names read inside subgraphs
  std::vector<bool> reaches_output_;
};

// Every name a node reads, including the outer names its subgraphs read.
std::vector<std::string> names_read(const onnx::NodeProto& node);

// Renames every value, node, initializer and graph consistently (through subgraphs) with `rename`.
void rename_everything(onnx::ModelProto& model, const std::map<std::string, std::string>& rename);
// All names in the model (values, nodes, graphs).
std::set<std::string> all_names(const onnx::ModelProto& model);

// Re-emits the nodes of `graph` (and of every subgraph) in a random valid topological order. Returns
// false when the graph has only one order.
bool shuffle_topological_order(onnx::GraphProto& graph, std::mt19937& rng);

}  // namespace graphcache::onnx_test
