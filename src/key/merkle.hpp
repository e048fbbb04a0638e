// Merkle hashing of an ir::Graph: each node's digest covers its op identity, its attributes (sorted by
// name), the digests of its operands in order, its output count and types. Weight slots are numbered by
// first use along a depth-first walk from the outputs in order (operands left to right), symbols by first
// occurrence (graph inputs first, then the same walk); so names and node order never matter while every
// edge, attribute and type does. Nodes that reach no output are not part of the digest.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "graphcache/digest.hpp"
#include "graphcache/ir.hpp"
#include "sha256.hpp"

namespace graphcache::key {

// Renames the identifiers of symbolic dims / SymInt expressions to $0, $1... by first occurrence.
class SymbolTable {
 public:
  std::string canonical(std::string_view expr);

 private:
  std::unordered_map<std::string, uint32_t> ids_;
};

class MerkleHasher {
 public:
  MerkleHasher(const ir::Graph& graph, SymbolTable& symbols, int depth = 0);

  const Digest& graph_digest() const { return graph_digest_; }
  bool reached(uint32_t node) const { return node_digests_[node].has_value(); }
  const Digest& node_digest(uint32_t node) const { return *node_digests_[node]; }
  // Digest of a reference as its consumers see it (nullopt for a node output no output reaches).
  std::optional<Digest> value_digest(const ir::ValueRef& ref) const;
  // Canonical slot of graph.weights[w], if any output reaches it.
  std::optional<uint32_t> weight_slot(uint32_t w) const;
  const std::vector<uint32_t>& weight_order() const { return weight_order_; }
  size_t reachable_nodes() const { return reachable_; }

  // Encodings shared with the key's other parts and with diff.
  void encode_type(Encoder& e, const ir::TensorType& type);
  void encode_attr(Encoder& e, const ir::AttrValue& value);

 private:
  void walk();
  void note_weight(uint32_t w);
  bool encode_ref(Encoder& e, const ir::ValueRef& ref) const;
  Digest hash_node(uint32_t index);

  const ir::Graph& graph_;
  SymbolTable& symbols_;
  int depth_;
  std::vector<std::optional<Digest>> node_digests_;
  std::vector<int64_t> weight_slots_;  // -1 until first use
  std::vector<uint32_t> weight_order_;
  size_t reachable_ = 0;
  Digest graph_digest_;
  Encoder node_encoder_;  // reused by hash_node (not re-entered: subgraphs get their own hasher)
};

}  // namespace graphcache::key
