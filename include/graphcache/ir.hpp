// The canonical in-memory graph every front end produces and the key consumes.
//
// Names (node, value, weight, input, output names) are carried for humans and for the weight-slot map,
// but nothing in the key depends on them. Nodes may be stored in any order; edges are explicit
// ValueRefs, so a different topological order is the same graph.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "graphcache/name.hpp"
#include "graphcache/node_vector.hpp"

namespace graphcache::ir {

// Element types. Values 0..23 follow onnx.TensorProto.DataType so ONNX maps 1:1; framework-only types
// (PyTorch quantized and complex32) live at 100+.
enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
  kComplex32 = 100,
  kQInt8 = 101,
  kQUInt8 = 102,
  kQInt32 = 103,
  kQUInt4x2 = 104,
  kQUInt2x4 = 105,
  kFloat8E8M0FNU = 106,
};

const char* to_string(DType dtype) noexcept;
// Size of one element in bits (4 for int4), 0 where not fixed (string, undefined).
int element_bits(DType dtype) noexcept;

// One dimension: a static size (value >= 0), a symbolic size (an identifier like "batch" or an
// expression like "2*s0 + 1"), or unknown (neither). Symbols are canonicalized by the key (renaming every
// occurrence of a symbol consistently does not change the key). An opaque symbol (an ONNX dim_param) is
// one name whatever its characters ("n + 1" is a name, not an expression): the key numbers it as a whole.
struct Dim {
  int64_t value = -1;
  std::string symbol;
  bool opaque = false;  // symbol is one name, not an expression

  static Dim fixed(int64_t v) { return Dim{v, {}}; }
  static Dim symbolic(std::string s) { return Dim{-1, std::move(s)}; }
  static Dim param(std::string s) { return Dim{-1, std::move(s), true}; }
  static Dim unknown() { return Dim{}; }
  bool is_static() const { return symbol.empty() && value >= 0; }
  bool operator==(const Dim&) const = default;
};

// One layer around a value's element tensor: ONNX sequence(T), map(key, T), optional(T), or a sparse
// tensor (always innermost). First-class in the type, so no marker node or reserved name is needed.
struct TypeWrapper {
  enum class Kind : uint8_t { kSequence, kMap, kOptional, kSparse };
  Kind kind = Kind::kSequence;
  DType key = DType::kUndefined;  // kMap: the key's element type
  bool operator==(const TypeWrapper&) const = default;
};

// dtype + shape; shape nullopt means "rank unknown", dtype kUndefined means "not known". `wrappers`
// (outermost first) make it a sequence/map/optional/sparse value whose innermost tensor is dtype + shape;
// empty for a plain tensor.
struct TensorType {
  DType dtype = DType::kUndefined;
  std::optional<std::vector<Dim>> shape;
  std::vector<TypeWrapper> wrappers{};  // (initialized: aggregate inits that omit it stay warning-free)

  static TensorType of(DType dtype, std::vector<Dim> dims) { return TensorType{dtype, std::move(dims)}; }
  static TensorType of(DType dtype, std::initializer_list<int64_t> dims);
  bool operator==(const TensorType&) const = default;
};

// A reference to a value: a node's k-th output, a graph input, a weight slot, a value captured by a
// subgraph from its enclosing graph, or nothing (an omitted optional input).
struct ValueRef {
  enum class Kind : uint8_t { kNone, kNodeOutput, kGraphInput, kWeight, kCapture };
  Kind kind = Kind::kNone;
  uint32_t index = 0;   // node / input / weight / capture index
  uint32_t output = 0;  // output index, kNodeOutput only

  static ValueRef none() { return {}; }
  static ValueRef node_output(uint32_t node, uint32_t out = 0) { return {Kind::kNodeOutput, node, out}; }
  static ValueRef graph_input(uint32_t i) { return {Kind::kGraphInput, i, 0}; }
  static ValueRef weight(uint32_t w) { return {Kind::kWeight, w, 0}; }
  static ValueRef capture(uint32_t c) { return {Kind::kCapture, c, 0}; }
  bool operator==(const ValueRef&) const = default;
};

struct Graph;

// Where a weight's bytes live. The key never reads them; the weight fingerprint does.
struct WeightData {
  enum class Source : uint8_t { kNone, kFile, kMemory };
  Source source = Source::kNone;
  std::string path;               // kFile: absolute path
  uint64_t offset = 0;            // kFile: byte offset in path
  uint64_t length = 0;            // byte count (kFile, kMemory)
  const void* pointer = nullptr;  // kMemory: host pointer, owned elsewhere (or by `owned`)
  // kMemory bytes a front end made itself (ONNX typed payloads converted to raw layout, sparse tensors):
  // kept alive with the graph.
  std::shared_ptr<const std::string> owned{};
};

// A constant tensor held by value (small constants: ONNX Constant values, tensor attributes).
struct TensorValue {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> dims;
  std::string bytes;  // little-endian raw data in ONNX raw_data layout; strings length-prefixed
  bool operator==(const TensorValue&) const = default;
};

struct Device {
  std::string type;  // "cpu", "cuda", "meta"...
  int64_t index = -1;
  bool operator==(const Device&) const = default;
};

// A named enumerator from a framework (torch.memory_format.contiguous_format, torch.strided, ...).
struct EnumValue {
  std::string type;
  std::string name;
  bool operator==(const EnumValue&) const = default;
};

// A symbolic integer argument (torch SymInt), canonicalized by the key like symbolic dims.
struct SymbolicInt {
  std::string expr;
  bool operator==(const SymbolicInt&) const = default;
};

// The position of a tensor argument inside node.inputs; lets nested argument structures (torch's
// cat([a, b], dim=1)) refer to operands while the edges stay in node.inputs.
struct OperandIndex {
  uint32_t index = 0;
  bool operator==(const OperandIndex&) const = default;
};

struct AttrValue;

struct Sequence {
  enum class Kind : uint8_t { kList, kTuple, kSlice, kDict /* items alternate key, value */ };
  Kind kind = Kind::kList;
  std::vector<AttrValue> items;
  bool operator==(const Sequence&) const;
};

using GraphPtr = std::shared_ptr<const Graph>;

// Attribute / constant-argument value. Floats are hashed by their exact IEEE-754 bits: -0.0 != 0.0 and
// NaNs with different payloads differ (never a false hit; at worst a miss).
struct AttrValue {
  using Variant = std::variant<std::monostate, bool, int64_t, double, std::string, DType, Device, EnumValue,
                               SymbolicInt, TensorValue, GraphPtr, Sequence, OperandIndex>;
  Variant value;

  AttrValue() = default;
  template <typename T>
  requires(!std::is_same_v<std::decay_t<T>, AttrValue> && std::is_constructible_v<Variant, T>) AttrValue(T v)
      : value(std::move(v)) {}  // NOLINT: implicit by design, keeps builders terse
  AttrValue(int v) : value(int64_t{v}) {}
  AttrValue(const char* s) : value(std::string(s)) {}
  static AttrValue list(std::vector<AttrValue> items) {
    return Sequence{Sequence::Kind::kList, std::move(items)};
  }
  static AttrValue ints(const std::vector<int64_t>& v);
  static AttrValue floats(const std::vector<double>& v);
  static AttrValue strings(const std::vector<std::string>& v);
  bool operator==(const AttrValue& other) const;
};

struct Attribute {
  std::string name;
  AttrValue value;
};

// Operator identity: domain ("" = ONNX default, "aten", "com.microsoft", "prims"...), name, overload
// ("default", "Tensor", "dim_IntList"...) and the version of its definition (ONNX since_version).
struct OpId {
  std::string domain;
  std::string name;
  std::string overload;
  int64_t version = 0;
  bool operator==(const OpId&) const = default;
};

// A node's operator, shared: every node of one op holds the same immutable OpId (a front end makes each
// distinct op once), so a node carries 8 bytes (a reference-counted pointer; std::shared_ptr takes 16)
// instead of an OpId's three strings. Copies share it. With it, the op's definition where the model
// itself defines it (an ONNX model-local function: its body and every function that body calls,
// serialized); part of the key, empty for ops defined elsewhere.
class OpRef {
 public:
  OpRef() noexcept = default;                   // the empty OpId
  OpRef(OpId op, std::string definition = {});  // NOLINT: implicit, so `node.op = OpId{...}` reads as before
  OpRef(const OpRef& other) noexcept : op_(other.op_) {
    if (op_ != nullptr) op_->references.fetch_add(1, std::memory_order_relaxed);
  }
  OpRef(OpRef&& other) noexcept : op_(std::exchange(other.op_, nullptr)) {}
  OpRef& operator=(const OpRef& other) noexcept {
    OpRef copy(other);
    std::swap(op_, copy.op_);
    return *this;
  }
  OpRef& operator=(OpRef&& other) noexcept {
    if (this != &other) {
      release();
      op_ = std::exchange(other.op_, nullptr);
    }
    return *this;
  }
  ~OpRef() { release(); }

  const OpId& operator*() const { return op_ ? op_->id : empty().id; }
  const OpId* operator->() const { return &**this; }
  std::string_view definition() const { return op_ ? op_->definition : std::string_view(); }
  // Equal ids and definitions (an OpId has none).
  bool operator==(const OpRef& other) const {
    return op_ == other.op_ || (**this == *other && definition() == other.definition());
  }
  bool operator==(const OpId& other) const { return **this == other && definition().empty(); }

 private:
  struct Op {
    Op(OpId op, std::string text) : id(std::move(op)), definition(std::move(text)) {}
    mutable std::atomic<uint64_t> references{1};
    OpId id;
    std::string definition;
  };
  static const Op& empty();
  void release() noexcept;
  const Op* op_ = nullptr;
};

// A value's type, shared and immutable; empty means "not known" (TensorType{}), which is what most ONNX
// intermediate values carry: 16 bytes in a node output instead of a TensorType's 64.
class TypeRef {
 public:
  TypeRef() = default;       // TensorType{}: dtype and rank unknown
  TypeRef(TensorType type);  // NOLINT: implicit, so `NodeOutput{name, type}` reads as before
  const TensorType& operator*() const { return type_ ? *type_ : unknown(); }
  const TensorType* operator->() const { return &**this; }
  bool operator==(const TypeRef& other) const { return type_ == other.type_ || **this == *other; }

 private:
  static const TensorType& unknown();
  std::shared_ptr<const TensorType> type_;
};

struct NodeOutput {
  Name name;     // not part of the key
  TypeRef type;  // empty where the front end does not know it
};

// A node's own sequences (NodeVector, node_vector.hpp) use the heap unless a front end gives them the
// graph's arena (Graph::arena): then building and freeing a graph costs a few large allocations instead
// of several per node (a third of the time of keying an fx graph went to malloc/free).

struct Node {
  OpRef op;
  NodeVector<ValueRef> inputs;       // ordered operands
  NodeVector<Attribute> attributes;  // any order; the key sorts by name
  NodeVector<NodeOutput> outputs;    // the count is part of the key
  NodeVector<ValueRef> captures;     // enclosing-graph values that subgraph attributes read (kCapture i)
  Name name;                         // not part of the key
  // Random ops (RandomNormal, dropout in training, randn_like...): two such nodes are two draws, so the
  // key never merges them even when their encodings are equal (front ends set this from op schemas).
  bool nondeterministic = false;

  Node() = default;
  // A node whose vectors allocate from `memory` (which must outlive the node: a graph's arena).
  explicit Node(std::pmr::memory_resource* memory)
      : inputs(memory), attributes(memory), outputs(memory), captures(memory) {}
  std::string_view definition_text() const { return op.definition(); }
};

struct GraphInput {
  std::string name;
  TensorType type;
  // The value the input takes when the caller does not feed it (an ONNX initializer that is also a graph
  // input): a weight slot, a constant node, or (in a subgraph) a captured weight. Keyed (and its weight
  // fingerprinted) like any operand, since compilers bake it in.
  std::optional<ValueRef> default_value{};
};

struct WeightSlot {
  std::string name;
  TensorType type;
  WeightData data;
};

struct GraphOutput {
  ValueRef value;
  std::string name;
  TensorType type;  // declared type, if the front end has one
};

// A fact about the whole graph that a front end knows beyond its nodes (torch: the output pytree, the
// export calling convention, dynamic ranges, input layouts). `name` must be one of the key layer's
// reserved setting names (key.hpp); src/key hashes facts as engine-relevant settings and diff compares them.
struct GraphFact {
  std::string name;
  std::string value;
};

struct Graph {
  // Memory for node vectors that a front end allocated from it (see NodeVector). Declared first, so
  // destroyed last: the nodes that use it go before it. Copies of nodes use the heap.
  std::shared_ptr<std::pmr::memory_resource> arena;
  std::vector<GraphInput> inputs;          // declared order is the calling convention: part of the key
  std::vector<WeightSlot> weights;         // any order: the key numbers them by first use
  std::vector<Node> nodes;                 // any order
  std::vector<GraphOutput> outputs;        // order is part of the key
  std::vector<std::string> capture_names;  // subgraphs: names of captured outer values (not in the key)
  std::vector<GraphFact> facts;            // graph-level facts, keyed (see GraphFact)
};

// Human-readable forms for messages and `graphcache diff` (long values are abbreviated).
std::string to_string(const TensorType& type);
std::string to_string(const AttrValue& value);
std::string to_string(const OpId& op);

// Checks every reference is in range, captures match, and the graph is acyclic; throws
// Error(kInvalidModel) naming the first problem. Returns the nodes in one topological order.
std::vector<uint32_t> validate(const Graph& graph);

// The nodes in one topological order over node-output edges (operands and captures), by Kahn's
// algorithm. References must be in range (validate checks them first).
struct TopologicalOrder {
  std::vector<uint32_t> order;      // operands before their readers; without a cycle's nodes
  std::optional<uint32_t> blocked;  // set when there is a cycle: the first stored node left out
};
TopologicalOrder topological_order(const Graph& graph);

// Builds graphs from code (tests, the C++ API, other front ends).
class GraphBuilder {
 public:
  ValueRef input(std::string name, TensorType type);
  ValueRef weight(std::string name, TensorType type, WeightData data = {});
  // Adds a node and returns references to its outputs.
  std::vector<ValueRef> node(OpId op, std::vector<ValueRef> inputs, std::vector<Attribute> attributes = {},
                             size_t num_outputs = 1, std::string name = {});
  // Single-output shorthand in the default ONNX domain.
  ValueRef op(const std::string& op_type, std::vector<ValueRef> inputs,
              std::vector<Attribute> attributes = {});
  void output(ValueRef value, std::string name = {}, TensorType type = {});
  Node& last_node() { return graph_.nodes.back(); }
  Graph& graph() { return graph_; }
  // Validates and returns the graph.
  Graph build() &&;

 private:
  Graph graph_;
  size_t name_counter_ = 0;
};

}  // namespace graphcache::ir
