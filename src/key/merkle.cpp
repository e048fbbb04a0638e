#include "merkle.hpp"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>

#include "graphcache/error.hpp"

namespace graphcache::key {

using ir::ValueRef;

void SymbolTable::encode_expr(Encoder& e, std::string_view expr) {
  // Tokens: 'v' identifier number | 'f' function name (length-prefixed; an identifier before '(') |
  // 'd' digit run (length-prefixed) | 'o' one other byte.
  auto is_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto is_part = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  Encoder tokens;
  uint64_t count = 0;
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    size_t j = i + 1;
    if (is_start(c)) {
      while (j < expr.size() && is_part(expr[j])) ++j;
      if (j < expr.size() && expr[j] == '(') {  // a SymPy function (Max, Min, FloorDiv): a name, not a symbol
        tokens.tag('f');
        tokens.str(expr.substr(i, j - i));
      } else {
        const auto [it, inserted] = identifiers_.emplace(std::string(expr.substr(i, j - i)),
                                                         static_cast<uint32_t>(identifiers_.size()));
        tokens.tag('v');
        tokens.uvar(it->second);
      }
    } else if (is_digit(c)) {
      while (j < expr.size() && is_digit(expr[j])) ++j;
      tokens.tag('d');
      tokens.str(expr.substr(i, j - i));
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      i = j;
      continue;
    } else {
      tokens.tag('o');
      tokens.u8(static_cast<uint8_t>(c));
    }
    ++count;
    i = j;
  }
  e.uvar(count);
  e.raw(tokens.bytes().data(), tokens.bytes().size());
}

void SymbolTable::encode_opaque(Encoder& e, std::string_view name) {
  const auto [it, inserted] = opaque_.emplace(std::string(name), static_cast<uint32_t>(opaque_.size()));
  e.uvar(it->second);
}

MerkleHasher::MerkleHasher(const ir::Graph& graph, SymbolTable& symbols, HashMode mode, int depth)
    : graph_(graph),
      symbols_(symbols),
      mode_(mode),
      depth_(depth),
      node_ids_(graph.nodes.size(), -1),
      weight_slots_(graph.weights.size(), -1) {
  if (depth == 0) ir::validate(graph);  // ranges, cycles and nesting depth, with clear messages
  if (mode_ == HashMode::kPerNode) {
    node_digests_.resize(graph.nodes.size());
  } else {
    form_.reserve(graph.nodes.size() * 96);
    // Load <= 2/3 (homes 1.5 slots apart per number); 8-byte entries: 12-24 bytes per node.
    form_index_.resize(std::bit_ceil(graph.nodes.size() * 3 / 2 + 2));
    form_offsets_.reserve(graph.nodes.size() + 1);
    form_offsets_.push_back(0);
  }
  walk();
}

void MerkleHasher::encode_type(Encoder& e, const ir::TensorType& type) {
  if (!type.wrappers.empty()) {  // 'W' never starts a plain type ('t'), so plain types keep their form
    e.tag('W');
    e.uvar(type.wrappers.size());
    for (const ir::TypeWrapper& w : type.wrappers) {
      e.u8(static_cast<uint8_t>(w.kind));
      e.svar(static_cast<int64_t>(w.key));
    }
  }
  e.tag('t');
  e.svar(static_cast<int64_t>(type.dtype));
  if (!type.shape) {
    e.tag('?');
    return;
  }
  e.uvar(type.shape->size());
  for (const auto& d : *type.shape) {
    if (d.opaque) {
      e.tag('Y');
      symbols_.encode_opaque(e, d.symbol);
    } else if (!d.symbol.empty()) {
      e.tag('y');
      symbols_.encode_expr(e, d.symbol);
    } else if (d.value >= 0) {
      e.tag('s');
      e.svar(d.value);
    } else {
      e.tag('u');
    }
  }
}

// The variant index is hashed (the `attr` rule of README.md's grammar): inserting or reordering an
// alternative would silently change every key. Append new alternatives at the end and bump the key version.
namespace variant_order {
using V = ir::AttrValue::Variant;
template <size_t I, typename T>
constexpr bool at = std::is_same_v<std::variant_alternative_t<I, V>, T>;
static_assert(std::variant_size_v<V> == 13,
              "a new AttrValue alternative: append it, extend the checks below");
static_assert(at<0, std::monostate> && at<1, bool> && at<2, int64_t> && at<3, double> && at<4, std::string>);
static_assert(at<5, ir::DType> && at<6, ir::Device> && at<7, ir::EnumValue> && at<8, ir::SymbolicInt>);
static_assert(at<9, ir::TensorValue> && at<10, ir::GraphPtr> && at<11, ir::Sequence> &&
              at<12, ir::OperandIndex>);
}  // namespace variant_order

void MerkleHasher::encode_attr(Encoder& e, const ir::AttrValue& attr) {
  const auto& v = attr.value;
  e.u8(static_cast<uint8_t>(v.index()));  // the alternative itself is part of the value: 1 != 1.0 != true
  if (const auto* b = std::get_if<bool>(&v)) {
    e.u8(*b ? 1 : 0);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    e.svar(*i);
  } else if (const auto* f = std::get_if<double>(&v)) {
    e.f64(*f);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    e.str(*s);
  } else if (const auto* dt = std::get_if<ir::DType>(&v)) {
    e.svar(static_cast<int64_t>(*dt));
  } else if (const auto* dev = std::get_if<ir::Device>(&v)) {
    e.str(dev->type);
    e.svar(dev->index);
  } else if (const auto* en = std::get_if<ir::EnumValue>(&v)) {
    e.str(en->type);
    e.str(en->name);
  } else if (const auto* sym = std::get_if<ir::SymbolicInt>(&v)) {
    symbols_.encode_expr(e, sym->expr);
  } else if (const auto* t = std::get_if<ir::TensorValue>(&v)) {
    e.svar(static_cast<int64_t>(t->dtype));
    e.uvar(t->dims.size());
    for (int64_t d : t->dims) e.svar(d);
    e.str(t->bytes);
  } else if (const auto* g = std::get_if<ir::GraphPtr>(&v)) {
    MerkleHasher sub(**g, symbols_, mode_, depth_ + 1);
    e.digest(sub.graph_digest());
  } else if (const auto* seq = std::get_if<ir::Sequence>(&v)) {
    e.u8(static_cast<uint8_t>(seq->kind));
    e.uvar(seq->items.size());
    for (const auto& item : seq->items) encode_attr(e, item);
  } else if (const auto* op = std::get_if<ir::OperandIndex>(&v)) {
    e.uvar(op->index);
  }
}

bool MerkleHasher::encode_ref(Encoder& e, const ValueRef& ref) const {
  switch (ref.kind) {
    case ValueRef::Kind::kNone:
      e.tag('z');
      return true;
    case ValueRef::Kind::kNodeOutput:
      if (node_ids_[ref.index] < 0) return false;
      e.tag('n');
      if (mode_ == HashMode::kPerNode) {
        e.digest(node_digests_[ref.index]);
      } else {
        e.uvar(static_cast<uint64_t>(node_ids_[ref.index]));
      }
      e.uvar(ref.output);
      return true;
    case ValueRef::Kind::kGraphInput:
      e.tag('i');
      e.uvar(ref.index);
      return true;
    case ValueRef::Kind::kWeight:
      // The slot's type is hashed where the slot is first used (hash_graph_weights below).
      if (weight_slots_[ref.index] < 0) return false;
      e.tag('w');
      e.uvar(static_cast<uint64_t>(weight_slots_[ref.index]));
      return true;
    case ValueRef::Kind::kCapture:
      e.tag('c');
      e.uvar(ref.index);
      return true;
  }
  return false;
}

std::optional<Digest> MerkleHasher::value_digest(const ValueRef& ref) const {
  if (mode_ != HashMode::kPerNode) throw Error(ErrorKind::kInternal, "value_digest needs per-node digests");
  Encoder e;
  if (!encode_ref(e, ref)) return std::nullopt;
  if (ref.kind == ValueRef::Kind::kWeight) {
    const auto& type = graph_.weights[ref.index].type;
    e.i64(static_cast<int64_t>(type.dtype));  // shapes are compared by diff directly
  }
  return sha256(e);
}

std::optional<uint32_t> MerkleHasher::weight_slot(uint32_t w) const {
  if (w >= weight_slots_.size() || weight_slots_[w] < 0) return std::nullopt;
  return static_cast<uint32_t>(weight_slots_[w]);
}

void MerkleHasher::note_weight(uint32_t w) {
  if (weight_slots_[w] >= 0) return;
  weight_slots_[w] = static_cast<int64_t>(weight_order_.size());
  weight_order_.push_back(w);
  // Number the slot's symbols now, in first-use order (the encoding itself is made again later). Most
  // weights have none: then encoding would only allocate.
  const ir::TensorType& type = graph_.weights[w].type;
  if (!type.shape) return;
  for (const ir::Dim& d : *type.shape) {
    if (d.opaque || !d.symbol.empty()) {  // what encode_type numbers
      Encoder scratch;
      encode_type(scratch, type);
      return;
    }
  }
}

void MerkleHasher::finish_node(uint32_t index) {
  encode_node(index);
  if (mode_ == HashMode::kPerNode) {
    node_digests_[index] = sha256(node_encoder_);
    node_ids_[index] = index;
  } else {
    node_ids_[index] = distinct_node_id();
  }
}

namespace {
// Slots probed next to a node's newest operand before the hashed table: two cache lines.
constexpr size_t kFormWindow = 16;
}  // namespace

uint32_t MerkleHasher::distinct_node_id() {
  // A node whose encoding (operands by number) was seen before is that node: reuse its number, as
  // equal Merkle digests would. Otherwise it gets the next number and its encoding joins the form.
  // Equal encodings name equal operands, so they share a home: next to the newest operand's number,
  // which the walk numbered a moment ago (post-order), so that part of the table is still in cache.
  const std::string& bytes = node_encoder_.bytes();
  const uint64_t hash = XXH3_64bits(bytes.data(), bytes.size());
  const uint32_t tag = static_cast<uint32_t>(hash >> 32) | 1;  // never 0 (empty)
  if (newest_operand_ >= 0) {
    const size_t home = static_cast<size_t>(newest_operand_) * 3 / 2;  // numbers < nodes: no wrap-around
    if (const std::optional<uint32_t> id = find_or_add_form(form_index_, home, kFormWindow, tag, bytes))
      return *id;
  }
  // A leaf, or a full window (a node read by many others): placed by hash. A window only fills, so an
  // encoding that is not in a full window was never added to it.
  if ((hashed_entries_ + 1) * 3 > hashed_index_.size() * 2) grow_hashed_index();
  const uint32_t before = distinct_nodes_;
  const uint32_t id = *find_or_add_form(hashed_index_, tag >> 1, hashed_index_.size(), tag, bytes);
  hashed_entries_ += distinct_nodes_ - before;
  return id;
}

std::optional<uint32_t> MerkleHasher::find_or_add_form(std::vector<FormEntry>& table, size_t home,
                                                       size_t window, uint32_t tag,
                                                       const std::string& bytes) {
  const size_t mask = table.size() - 1;
  for (size_t probe = 0; probe < window; ++probe) {
    FormEntry& entry = table[(home + probe) & mask];
    if (entry.tag == 0) {
      if (form_.size() + bytes.size() > UINT32_MAX)
        throw Error(ErrorKind::kUnsupported, "graph too large to key (canonical form over 4 GiB)");
      entry = FormEntry{tag, distinct_nodes_};
      form_ += bytes;
      form_offsets_.push_back(static_cast<uint32_t>(form_.size()));
      return distinct_nodes_++;
    }
    if (entry.tag == tag) {
      const uint32_t start = form_offsets_[entry.id];
      if (std::string_view(form_).substr(start, form_offsets_[entry.id + 1] - start) == bytes)
        return entry.id;
    }
  }
  return std::nullopt;
}

void MerkleHasher::grow_hashed_index() {
  // Homes come from the tags (tag >> 1: bit 0 is always set), so entries move without their bytes.
  std::vector<FormEntry> grown(std::max<size_t>(64, hashed_index_.size() * 2));
  const size_t mask = grown.size() - 1;
  for (const FormEntry& entry : hashed_index_) {
    if (entry.tag == 0) continue;
    size_t slot = (entry.tag >> 1) & mask;
    while (grown[slot].tag != 0) slot = (slot + 1) & mask;
    grown[slot] = entry;
  }
  hashed_index_ = std::move(grown);
}

void MerkleHasher::encode_node(uint32_t index) {
  // One encoder for every node: clear() keeps its capacity, so encoding a node allocates nothing.
  const ir::Node& node = graph_.nodes[index];
  Encoder& e = node_encoder_;
  e.clear();
  e.tag('N');
  e.str(node.op->domain);
  e.str(node.op->name);
  e.str(node.op->overload);
  e.svar(node.op->version);
  e.str(node.definition_text());
  e.uvar(node.inputs.size());
  for (const auto& ref : node.inputs) encode_ref(e, ref);
  e.uvar(node.captures.size());
  for (const auto& ref : node.captures) encode_ref(e, ref);
  e.uvar(node.attributes.size());
  auto by_name = [](const ir::Attribute& a, const ir::Attribute& b) { return a.name < b.name; };
  if (std::is_sorted(node.attributes.begin(), node.attributes.end(), by_name)) {
    // The common case (positional "0", "1"... then kwargs): already in key order, no sort needed.
    for (const auto& a : node.attributes) {
      e.str(a.name);
      encode_attr(e, a.value);
    }
  } else {
    std::vector<const ir::Attribute*> attrs;
    attrs.reserve(node.attributes.size());
    for (const auto& a : node.attributes) attrs.push_back(&a);
    std::stable_sort(attrs.begin(), attrs.end(), [&](auto* a, auto* b) { return by_name(*a, *b); });
    for (const auto* a : attrs) {
      e.str(a->name);
      encode_attr(e, a->value);
    }
  }
  e.uvar(node.outputs.size());
  for (const auto& out : node.outputs) encode_type(e, *out.type);
  if (mode_ == HashMode::kGraphOnly) {  // where distinct_node_id looks for an equal node
    newest_operand_ = -1;
    for (const auto* refs : {&node.inputs, &node.captures}) {
      for (const auto& ref : *refs) {
        if (ref.kind == ValueRef::Kind::kNodeOutput)
          newest_operand_ = std::max(newest_operand_, node_ids_[ref.index]);
      }
    }
  }
  // A random node is numbered by walk order, so it equals no other node (two draws are two values),
  // while the same graph stored in another order still gets the same numbers.
  e.u8(node.nondeterministic ? 1 : 0);
  if (node.nondeterministic) e.uvar(random_nodes_++);
}

void MerkleHasher::walk() {
  // Symbols of the calling convention first, in declared order.
  Encoder inputs;
  inputs.tag('G');
  inputs.uvar(graph_.inputs.size());
  for (const auto& in : graph_.inputs) encode_type(inputs, in.type);

  // Iterative post-order DFS (a recursive one would overflow on long chains): operands left to right.
  struct Frame {
    uint32_t node;
    uint32_t next;
  };
  std::vector<Frame> stack;
  std::vector<uint8_t> on_stack(graph_.nodes.size(), 0);
  auto visit = [&](const ValueRef& ref) {
    if (ref.kind == ValueRef::Kind::kWeight) note_weight(ref.index);
    if (ref.kind != ValueRef::Kind::kNodeOutput || node_ids_[ref.index] >= 0) return;
    if (on_stack[ref.index])
      throw Error(ErrorKind::kInvalidModel, "node " + std::to_string(ref.index) + " (" +
                                                graph_.nodes[ref.index].op->name + ") is part of a cycle");
    on_stack[ref.index] = 1;
    stack.push_back(Frame{ref.index, 0});
  };
  // Input defaults first (declared order), then the outputs: both are roots of the walk.
  std::vector<ValueRef> roots;
  for (const auto& in : graph_.inputs) {
    if (in.default_value) roots.push_back(*in.default_value);
  }
  for (const auto& out : graph_.outputs) roots.push_back(out.value);
  for (const ValueRef& root : roots) {
    visit(root);
    while (!stack.empty()) {
      Frame& f = stack.back();
      const ir::Node& node = graph_.nodes[f.node];
      const size_t n_in = node.inputs.size();
      if (f.next < n_in + node.captures.size()) {
        const uint32_t k = f.next++;
        visit(k < n_in ? node.inputs[k] : node.captures[k - n_in]);
        continue;
      }
      finish_node(f.node);
      on_stack[f.node] = 0;
      ++reachable_;
      stack.pop_back();
    }
  }

  Encoder e = std::move(inputs);
  if (mode_ == HashMode::kGraphOnly) {  // the form itself is hashed in place, after this prefix
    e.uvar(distinct_nodes_);
    e.uvar(form_.size());
  }
  Encoder& trailer = node_encoder_;
  trailer.clear();
  trailer.uvar(graph_.capture_names.size());
  trailer.uvar(weight_order_.size());
  for (uint32_t w : weight_order_) encode_type(trailer, graph_.weights[w].type);
  for (const auto& in : graph_.inputs) {  // 'z': no default ('z' is also ValueRef::none, never a default)
    if (in.default_value) {
      encode_ref(trailer, *in.default_value);
    } else {
      trailer.tag('z');
    }
  }
  trailer.uvar(graph_.outputs.size());
  for (const auto& out : graph_.outputs) {
    encode_ref(trailer, out.value);
    encode_type(trailer, out.type);
  }
  graph_digest_ = sha256({e.bytes(), form_, trailer.bytes()});
}

}  // namespace graphcache::key
