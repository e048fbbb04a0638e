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

// Numbers symbols by first occurrence, so that renaming every occurrence of a symbol consistently keeps
// the encoding. Expressions (symbolic dims, SymInt) are encoded as a count-prefixed sequence of tagged
// tokens (grammar: src/key/README.md): no identifier, digit run or other character can spell another
// token sequence, whatever its characters.
class SymbolTable {
 public:
  // Whitespace separates tokens and is otherwise dropped ("s0 + 1" == "s0+1", but "1 2" != "12").
  void encode_expr(Encoder& e, std::string_view expr);
  // An opaque symbol (ONNX dim_param): one number for the whole string.
  void encode_opaque(Encoder& e, std::string_view name);

 private:
  std::unordered_map<std::string, uint32_t> identifiers_;
  std::unordered_map<std::string, uint32_t> opaque_;
};

// Two ways to the same equality: kPerNode gives every reached node its own SHA-256 digest (what diff
// compares across graphs); kGraphOnly numbers the distinct nodes in walk order (structurally equal nodes
// share a number, as they would share a digest) and hashes the graph's canonical form - each distinct
// node's encoding, operands by number - in one SHA-256 stream. Both modes tell the same pairs of graphs
// apart (up to SHA-256 collisions); kGraphOnly is what keys use: one SHA-256 per node cost more than
// the rest of the key (a hash call per ~100-byte message is mostly fixed cost).
enum class HashMode { kPerNode, kGraphOnly };

class MerkleHasher {
 public:
  MerkleHasher(const ir::Graph& graph, SymbolTable& symbols, HashMode mode = HashMode::kPerNode,
               int depth = 0);

  const Digest& graph_digest() const { return graph_digest_; }
  bool reached(uint32_t node) const { return node_ids_[node] >= 0; }
  // kPerNode only.
  const Digest& node_digest(uint32_t node) const { return node_digests_[node]; }
  // Digest of a reference as its consumers see it (nullopt for a node output no output reaches).
  // kPerNode only.
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
  void encode_node(uint32_t index);
  void finish_node(uint32_t index);
  uint32_t distinct_node_id();

  const ir::Graph& graph_;
  SymbolTable& symbols_;
  HashMode mode_;
  int depth_;
  std::vector<int64_t> node_ids_;     // -1 until reached; kGraphOnly: the distinct node's number
  std::vector<Digest> node_digests_;  // kPerNode
  // kGraphOnly: the canonical form so far, and open-addressing tables over its node encodings. An entry
  // is 8 bytes (32 hash bits, 0 = empty, and the distinct node's number; its bytes are
  // form_[form_offsets_[id] .. form_offsets_[id + 1])). A node that reads other nodes is placed next to
  // its newest operand's number (form_index_, probed in a short window), so the walk touches the table
  // where it last did instead of at a random slot per node: at a million nodes a random slot missed the
  // cache every time. Leaves, and nodes whose window is full, go to a hashed table that grows.
  struct FormEntry {
    uint32_t tag = 0;
    uint32_t id = 0;
  };
  std::optional<uint32_t> find_or_add_form(std::vector<FormEntry>& table, size_t home, size_t window,
                                           uint32_t tag, const std::string& bytes);
  void grow_hashed_index();
  std::string form_;
  std::vector<FormEntry> form_index_;    // placed by the newest operand's number
  std::vector<FormEntry> hashed_index_;  // placed by hash: leaves, and nodes whose window was full
  size_t hashed_entries_ = 0;
  int64_t newest_operand_ = -1;  // of the node being encoded: its highest operand number, -1 for a leaf
  std::vector<uint32_t> form_offsets_;  // start of each distinct node's encoding in form_, then form_'s end
  uint32_t distinct_nodes_ = 0;
  std::vector<int64_t> weight_slots_;  // -1 until first use
  std::vector<uint32_t> weight_order_;
  size_t reachable_ = 0;
  uint32_t random_nodes_ = 0;  // nondeterministic nodes encoded so far: each gets its own ordinal
  Digest graph_digest_;
  Encoder node_encoder_;  // reused by encode_node (not re-entered: subgraphs get their own hasher)
};

}  // namespace graphcache::key
