#include "graph_converter.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "attribute_convert.hpp"
#include "capture_order.hpp"
#include "deferred_names.hpp"
#include "graphcache/error.hpp"
#include "initializer_convert.hpp"
#include "model_pages.hpp"
#include "name_scope.hpp"
#include "nondeterminism.hpp"
#include "op_resolver.hpp"
#include "tensor_convert.hpp"

namespace graphcache::onnx_frontend {

namespace {

using ir::ValueRef;

struct Shared {
  const ModelLocation& location;
  const OnnxLoadOptions& options;
  const ErrorSource& source;
  OpResolver resolver;
  ir::OpRef unversioned_constant = ir::OpId{"", "Constant", "", 0};  // where no opset "" is imported
};

bool is_constant_op(std::string_view domain, std::string_view op_type) {
  return (domain.empty() || domain == "ai.onnx") && op_type == "Constant";
}

// Gives the blocks a graph of `nodes` nodes just freed (its wire initializers, its names map, its wire
// form) back to the system, from `min_nodes` nodes on. glibc keeps a freed block in its heap, instead of
// unmapping it, when the block is smaller than its mmap threshold, which it raises to the size of every
// large block freed (up to 32 MiB): after one load, the next load's freed initializers and names map
// would stay resident under its peak (~14% more at 400k nodes). malloc_trim also returns free pages
// inside the heap. It costs time (the pages are faulted in again when the heap grows back): 2-4% more CPU
// at 400k nodes, but 15% at 133k (for a 10% lower peak), and trimming the wire form's blocks lowers the
// peak only where they exceed what the key's tables reuse at once. Hence the thresholds, measured with
// bench/hardening.
void return_freed_memory(size_t nodes, size_t min_nodes) {
#if defined(__GLIBC__)
  if (nodes >= min_nodes) ::malloc_trim(0);
#else
  (void)nodes, (void)min_nodes;
#endif
}
constexpr size_t kTrimNamesFrom = 262144;  // the initializers' and the names map's blocks: >= 8 MiB
constexpr size_t kTrimWireFrom = 524288;   // the wire form's: >= 16 MiB

// An operand declare_nodes could not resolve yet (a real omitted input has output 0).
constexpr ValueRef kUnresolved{ValueRef::Kind::kNone, 0, 1};

// What an IR node came from: wire node `index`, or (a by-value Constant) initializer `index`.
struct Origin {
  uint32_t index : 31 = 0;  // a model under 2 GiB (protobuf's limit) has fewer than 2^30 nodes
  uint32_t initializer : 1 = 0;
};
static_assert(sizeof(Origin) == 4, "one Origin per IR node");

class GraphConverter {
 public:
  GraphConverter(Shared& shared, const WireGraph& wire, GraphConverter* parent, CaptureSink* sink,
                 std::string where)
      : shared_(shared),
        source_(shared.source),
        wire_(wire),
        where_(std::move(where)),
        parent_(parent),
        pages_(parent == nullptr ? shared.location.file : nullptr) {  // a body's bytes are its node's
    scope_.parent = parent == nullptr ? nullptr : &parent->scope_;
    scope_.sink = sink;
  }

  // Lets convert() free `initializers` (wire_'s) once it no longer needs them.
  void release_initializers_when_converted(std::vector<WireTensor>& initializers) {
    releasable_initializers_ = &initializers;
  }

  ir::Graph convert() {
    // Node vectors come from one arena that lives with the graph (a few large allocations instead of
    // several per node); every node is built in place, so none is copied out of it.
    const size_t nodes = wire_.nodes.size() + wire_.initializers.size();
    graph_.arena = std::make_shared<std::pmr::monotonic_buffer_resource>(nodes * 64 + 4096);
    graph_.nodes.reserve(nodes);
    origin_.reserve(nodes);
    size_t names = wire_.inputs.size() + wire_.initializers.size() + wire_.sparse_initializers.size();
    for (const WireNode& node : wire_.nodes) names += node.output_count;
    // A graph without subgraphs resolves its names in sequential passes (a name it does not define is
    // an enclosing graph's, looked up when its node converts); one with subgraphs keeps a map of every
    // name, which its bodies look up while their node converts.
    if (!has_subgraphs()) {
      deferred_.emplace(names);
    } else {
      scope_.names.max_load_factor(0.8f);  // robin hood probing stays short at 0.8; a third less memory
      scope_.names.reserve(names);
    }
    declare_inputs();
    declare_initializers();
    pages_.release_all();  // the initializers' names and payloads
    // The initializers are converted, and the names map holds views of the model's bytes, not of them:
    // free them (the model's graph) before the nodes are declared, when memory peaks.
    if (releasable_initializers_ != nullptr) {
      std::vector<WireTensor>().swap(*releasable_initializers_);
      return_freed_memory(nodes, kTrimNamesFrom);
    }
    declare_nodes();
    pages_.release_all();  // the nodes' and those that lookups compared
    if (deferred_) {
      resolve_deferred();
      pages_.release_all();  // the names the join compared
      return_freed_memory(nodes, kTrimNamesFrom);
    }
    for (size_t i = 0; i < origin_.size(); ++i) {  // initializers' Constant nodes are built already
      if (origin_[i].initializer) continue;
      const WireNode& node = wire_.nodes[origin_[i].index];
      pages_.reached(wire_.offset(node));
      convert_node(node, static_cast<uint32_t>(i));
    }
    pages_.release_all();
    bind_outputs();
    NameMap<PackedRef>().swap(scope_.names);  // resolved: free it before the cycle check's arrays
    check_acyclic();
    for (const uint32_t dropout : dropouts_to_decide_) mark_dropout(graph_, dropout);
    return std::move(graph_);
  }

 private:
  // `where()` spells out the location for an error.
  // `site` says where for a name that join() finds defined twice.
  template <typename WhereFn>
  void define(std::string_view name, ValueRef ref, DefinitionSite site, const WhereFn& where) {
    if (name.empty()) source_.fail("a value has an empty name", where());
    if (deferred_) {
      deferred_->define(name, ref, site);
    } else if (!scope_.names.emplace(name, ref).second) {
      source_.fail("value '" + std::string(name) + "' is defined twice", where());
    }
  }
  void define(std::string_view name, ValueRef ref, DefinitionSite site, const std::string& where) {
    define(name, ref, site, [&] { return where; });
  }

  // Where the deferred join writes a value: operand `k` of node `node`, or graph output `i`.
  static constexpr uint64_t kGraphOutputUse = uint64_t{1} << 63;
  static uint64_t operand_use(uint32_t node, size_t k) { return uint64_t{node} << 32 | k; }

  // Resolves the operands declare_nodes deferred and the graph outputs; fails on a name defined twice,
  // as the map would have when its second definition came (the earliest such one).
  void resolve_deferred() {
    for (size_t i = 0; i < wire_.outputs.size(); ++i) {
      if (!wire_.outputs[i].name().empty()) deferred_->defer(wire_.outputs[i].name(), kGraphOutputUse | i);
    }
    early_outputs_.assign(wire_.outputs.size(), std::nullopt);
    const MappedFile* file = shared_.location.file;
    const std::optional<DeferredNames::DefinedTwice> twice = deferred_->join(
        [&](uint64_t use, ValueRef ref) {
          if (use & kGraphOutputUse) {
            early_outputs_[use & ~kGraphOutputUse] = ref;
          } else {
            graph_.nodes[use >> 32].inputs[use & 0xffffffffu] = ref;
          }
        },
        [&](const char* name) {  // in node order: the model's pages behind are released as the pass goes
          const auto* byte = reinterpret_cast<const uint8_t*>(name);
          if (file != nullptr && byte >= file->data() && byte < file->data() + file->size())
            pages_.reached(static_cast<uint64_t>(byte - file->data()));
        });
    deferred_.reset();
    if (!twice) return;
    const auto is_initializer = [](DefinitionSite site) {
      return site.kind == DefinitionSite::Kind::kInitializer ||
             site.kind == DefinitionSite::Kind::kSparseInitializer;
    };
    const std::string name(twice->name);
    const std::string where = definition_where(twice->second, name);
    if (is_initializer(twice->first) && is_initializer(twice->second))
      source_.fail("initializer '" + name + "' is defined twice", where);
    source_.fail("value '" + name + "' is defined twice", where);
  }
  std::string definition_where(DefinitionSite site, const std::string& name) const {
    const std::string index = "[" + std::to_string(site.index) + "] ('" + name + "')";
    switch (site.kind) {
      case DefinitionSite::Kind::kInput:
        return where_ + ".input" + index;
      case DefinitionSite::Kind::kInitializer:
        return where_ + ".initializer" + index;
      case DefinitionSite::Kind::kSparseInitializer:
        return where_ + ".sparse_initializer" + index;
      case DefinitionSite::Kind::kNode:
        break;
    }
    return wire_node_where(site.index);
  }
  static DefinitionSite site(DefinitionSite::Kind kind, size_t index) {
    return DefinitionSite{kind, static_cast<uint32_t>(index)};
  }

  // The location of graph_.nodes[i] in messages (built only for one).
  std::string node_where(uint32_t i) const {
    const Origin origin = origin_[i];
    if (origin.initializer) {
      return where_ + ".initializer[" + std::to_string(origin.index) + "] ('" + graph_.nodes[i].name +
             "')";  // the initializer's name (its wire tensor may be released)
    }
    return wire_node_where(origin.index);
  }
  std::string wire_node_where(size_t j) const {
    const WireNode& node = wire_.nodes[j];
    return where_ + ".node[" + std::to_string(j) + "] (" +
           (node.name.empty() ? "" : "'" + std::string(wire_.str(node.name)) + "', ") +
           std::string(wire_.str(wire_.op(node).op_type)) + ")";
  }

  void declare_inputs() {
    for (size_t i = 0; i < wire_.inputs.size(); ++i) {
      const onnx::ValueInfoProto& info = wire_.inputs[i];
      const std::string where = where_ + ".input[" + std::to_string(i) + "] ('" + info.name() + "')";
      ir::GraphInput input{info.name(), {}};
      const ValueRef ref = ValueRef::graph_input(static_cast<uint32_t>(i));
      if (info.has_type()) input.type = to_tensor_type(info.type(), source_, where);
      define(std::string_view(info.name()), ref, site(DefinitionSite::Kind::kInput, i), where);
      if (deferred_) input_index_.emplace(std::string_view(info.name()), static_cast<uint32_t>(i));
      graph_.inputs.push_back(std::move(input));
    }
  }

  void declare_initializers() {
    // Only graph inputs and initializers are defined so far: a name already defined is an earlier
    // initializer's, unless it is an input's that no initializer gave a default yet.
    const auto defined_by_initializer = [&](std::string_view name) {
      if (deferred_) {  // an earlier initializer's: join() finds it
        const auto input = input_index_.find(name);
        return input != input_index_.end() && graph_.inputs[input->second].default_value.has_value();
      }
      const auto it = scope_.names.find(name);
      if (it == scope_.names.end()) return false;
      return it->second.kind() != ValueRef::Kind::kGraphInput ||
             graph_.inputs[it->second.index].default_value;
    };
    for (size_t i = 0; i < wire_.initializers.size(); ++i) {
      const WireTensor& tensor = wire_.initializers[i];
      pages_.reached(tensor.whole.offset);
      const std::string name(tensor.name);
      const std::string where = where_ + ".initializer[" + std::to_string(i) + "] ('" + name + "')";
      if (defined_by_initializer(tensor.name))
        source_.fail("initializer '" + name + "' is defined twice", where);
      std::optional<uint32_t> input_index;
      if (deferred_) {
        if (const auto input = input_index_.find(tensor.name); input != input_index_.end())
          input_index = input->second;
      } else if (const auto it = scope_.names.find(tensor.name);
                 it != scope_.names.end() && it->second.kind() == ValueRef::Kind::kGraphInput) {
        input_index = it->second.index;
      }
      const bool is_input = input_index.has_value();
      ValueRef value;
      if (keep_by_value(tensor, shared_.options, source_, where)) {
        value = ValueRef::node_output(add_constant_node(wire_tensor_value(tensor, source_, where), name,
                                                        Origin{static_cast<uint32_t>(i), true}, where));
      } else {
        value = add_weight(tensor, name, where);
      }
      if (is_input) {
        // The default of a graph input (IR < 4, keep_initializers_as_inputs): the input stays an input
        // (its declared type wins) and its default is keyed / fingerprinted, since compilers bake it in.
        ir::GraphInput& input = graph_.inputs[*input_index];
        if (input.type.dtype == ir::DType::kUndefined && !input.type.shape)
          input.type = wire_tensor_type(tensor, source_, where);
        input.default_value = value;
        continue;
      }
      define(std::string_view(tensor.name), value, site(DefinitionSite::Kind::kInitializer, i), where);
    }
    for (size_t i = 0; i < wire_.sparse_initializers.size(); ++i) {
      const onnx::SparseTensorProto& sparse = wire_.sparse_initializers[i];
      const std::string& name = sparse.values().name();
      const std::string where = where_ + ".sparse_initializer[" + std::to_string(i) + "] ('" + name + "')";
      if (defined_by_initializer(name)) source_.fail("initializer '" + name + "' is defined twice", where);
      ir::WeightSlot slot{name, {}, {}};
      slot.type.dtype = to_dtype(sparse.values().data_type(), source_, where);
      slot.type.wrappers.push_back({ir::TypeWrapper::Kind::kSparse, ir::DType::kUndefined});
      std::vector<ir::Dim> dims;
      for (int64_t dim : sparse.dims()) {
        if (dim < 0) source_.fail("negative dimension", where);
        dims.push_back(ir::Dim::fixed(dim));
      }
      slot.type.shape = std::move(dims);
      // Its data: indices then values, each in raw layout and length-prefixed (no single byte range of the
      // file holds them), so the weight fingerprint covers both.
      std::string bytes;
      for (const onnx::TensorProto* part : {&sparse.indices(), &sparse.values()}) {
        const ir::TensorValue value = to_tensor_value(*part, source_, where);
        const uint64_t size = value.bytes.size();
        bytes.append(reinterpret_cast<const char*>(&size), sizeof size);
        bytes += value.bytes;
        for (int64_t d : value.dims) bytes.append(reinterpret_cast<const char*>(&d), sizeof d);
      }
      slot.data = owned_weight_bytes(std::move(bytes));
      define(std::string_view(name), place_weight(std::move(slot)),
             site(DefinitionSite::Kind::kSparseInitializer, i), where);
    }
    NameMap<uint32_t>().swap(input_index_);  // the sparse initializers looked inputs up too
  }

  bool has_subgraphs() const {
    return std::any_of(wire_.attributes.begin(), wire_.attributes.end(),
                       [](const WireAttribute& attribute) { return !attribute.graphs.empty(); });
  }

  void declare_nodes() {
    for (size_t j = 0; j < wire_.nodes.size(); ++j) {
      const WireNode& node = wire_.nodes[j];
      pages_.reached(wire_.offset(node));
      const WireNames outputs = wire_.node_outputs(node);
      if (is_constant_op(wire_.str(wire_.op(node).domain), wire_.str(wire_.op(node).op_type))) {
        const std::string where = wire_node_where(j);
        if (const WireTensor* big = large_constant(node, where); big != nullptr) {
          if (outputs.size() != 1) source_.fail("Constant must have exactly one output", where);
          define(outputs[0], add_weight(*big, std::string(outputs[0]), where),
                 site(DefinitionSite::Kind::kNode, j), where);
          continue;
        }
      }
      const auto index = static_cast<uint32_t>(graph_.nodes.size());
      ir::Node& ir_node = graph_.nodes.emplace_back(graph_.arena.get());
      // Operands defined by the nodes before this one (all of them in a topologically sorted model) are
      // looked up now, while their entries are still in cache; the others (and outer values) when the
      // node is converted. Lookups have no side effects and raise no errors, so the order of errors is
      // the same as resolving every operand then.
      const WireNames inputs = wire_.node_inputs(node);
      ir_node.inputs.reserve(inputs.size());
      for (const std::string_view name : inputs) {
        if (name.empty()) {
          ir_node.inputs.push_back(ValueRef::none());
        } else if (deferred_) {  // or resolve_deferred() writes it
          ir_node.inputs.push_back(deferred_->find_or_defer(name, operand_use(index, ir_node.inputs.size()))
                                       .value_or(kUnresolved));
        } else if (const auto it = scope_.names.find(name); it != scope_.names.end()) {
          ir_node.inputs.push_back(it->second);
        } else {
          ir_node.inputs.push_back(kUnresolved);
        }
      }
      origin_.push_back(Origin{static_cast<uint32_t>(j), false});
      if (outputs.size() > size_t{PackedRef::kMaxOutput} + 1)
        throw Error(ErrorKind::kUnsupported,
                    source_.label + ": a node with over 2^29 outputs: " + wire_node_where(j));
      for (size_t k = 0; k < outputs.size(); ++k) {
        if (!outputs[k].empty())
          define(outputs[k], ValueRef::node_output(index, static_cast<uint32_t>(k)),
                 site(DefinitionSite::Kind::kNode, j), [&] { return wire_node_where(j); });
      }
    }
  }

  // A Constant whose tensor is too large to key by value (or lives in an external file): a weight slot.
  const WireTensor* large_constant(const WireNode& node, const std::string& where) const {
    for (const WireAttribute& attribute : wire_.node_attributes(node)) {
      if (attribute.proto.name() != "value" || !attribute.tensor) continue;
      const WireTensor& tensor = *attribute.tensor;
      if (tensor.external) return &tensor;
      const std::optional<uint64_t> bytes = raw_byte_size(to_dtype(tensor.data_type, source_, where),
                                                          element_count(tensor.dims, source_, where));
      if (bytes.value_or(tensor.whole.size) > shared_.options.max_constant_bytes) return &tensor;
    }
    return nullptr;
  }

  uint32_t add_constant_node(ir::TensorValue value, const std::string& name, Origin origin,
                             const std::string& where) {
    ir::Node& node = graph_.nodes.emplace_back(graph_.arena.get());
    node.attributes.push_back({"value", std::move(value)});
    node.outputs.push_back({name, {}});
    node.name = name;
    if (shared_.resolver.imports("")) {
      shared_.resolver.resolve(node, "", "Constant", "", [&] { return where; });
    } else {
      node.op = shared_.unversioned_constant;
    }
    origin_.push_back(origin);
    return static_cast<uint32_t>(graph_.nodes.size() - 1);
  }

  ValueRef add_weight(const WireTensor& tensor, const std::string& name, const std::string& where) {
    return place_weight(weight_slot_of(tensor, name, shared_.location, source_, where));
  }

  // Adds a weight slot. Every slot lives in the top-level graph, where the weight fingerprint sees it: a
  // body's initializer is captured through each enclosing node (not under its name, so no outer lookup
  // of that name can resolve to it).
  ValueRef place_weight(ir::WeightSlot slot) {
    if (parent_ == nullptr) {
      graph_.weights.push_back(std::move(slot));
      return ValueRef::weight(static_cast<uint32_t>(graph_.weights.size() - 1));
    }
    std::string name = slot.name;
    const ValueRef outer = parent_->place_weight(std::move(slot));
    scope_.sink->refs.push_back(outer);
    scope_.sink->names.push_back(std::move(name));
    return ValueRef::capture(static_cast<uint32_t>(scope_.sink->refs.size() - 1));
  }

  // Fills graph_.nodes[index] (built in place: its vectors use the graph's arena).
  void convert_node(const WireNode& wire, uint32_t index) {
    const auto where = [&] { return node_where(index); };
    const WireOp& op = wire_.op(wire);
    if (op.op_type.empty()) source_.fail("node has no op_type", where());
    ir::Node& node = graph_.nodes[index];
    node.name = wire_.str(wire.name);
    const std::string_view domain = wire_.str(op.domain);
    const WireNames inputs = wire_.node_inputs(wire), outputs = wire_.node_outputs(wire);
    for (size_t k = 0; k < inputs.size(); ++k) {  // declare_nodes resolved the operands defined before
      if (node.inputs[k] != kUnresolved) continue;
      const std::optional<ValueRef> ref = scope_.resolve(inputs[k]);
      if (!ref) {
        source_.fail(
            "input '" + std::string(inputs[k]) + "' is not defined by any node, graph input or initializer",
            where());
      }
      node.inputs[k] = *ref;
    }
    node.outputs.reserve(outputs.size());
    for (const std::string_view name : outputs)
      node.outputs.push_back({ir::Name(name), {}});  // no std::string
    if (wire.attribute_count != 0) convert_attributes(wire, node, where());
    for (const auto* refs : {&node.inputs, &node.captures}) {
      for (const ValueRef& ref : *refs) {
        if (ref.kind == ValueRef::Kind::kNodeOutput && ref.index >= index) sorted_ = false;
      }
    }
    shared_.resolver.resolve(node, domain == "ai.onnx" ? std::string_view() : domain, wire_.str(op.op_type),
                             wire_.str(op.overload), where);
    if (mark_if_random(node)) dropouts_to_decide_.push_back(index);
  }

  void convert_attributes(const WireNode& wire, ir::Node& node, const std::string& where) {
    struct GraphAttribute {
      size_t attribute;
      std::vector<std::unique_ptr<ir::Graph>> bodies;
      bool list;
    };
    std::vector<GraphAttribute> graph_attributes;
    CaptureSink sink;
    std::unordered_set<std::string> names;
    node.attributes.reserve(wire.attribute_count);
    for (const WireAttribute& attribute : wire_.node_attributes(wire)) {
      const onnx::AttributeProto& proto = attribute.proto;
      const std::string at = where + " attribute '" + proto.name() + "'";
      if (proto.name().empty()) source_.fail("attribute has no name", where);
      if (!names.insert(proto.name()).second) source_.fail("attribute appears twice", at);
      if (!proto.ref_attr_name().empty())
        source_.fail("reference to a function attribute outside a function", at);
      const auto kind =
          attribute_kind(proto, attribute.tensor.has_value(), attribute.has_g, attribute.has_graphs);
      if (kind == onnx::AttributeProto::GRAPH || kind == onnx::AttributeProto::GRAPHS) {
        const bool list = kind == onnx::AttributeProto::GRAPHS;
        if (!list && !attribute.has_g) source_.fail("graph attribute holds no graph", at);
        GraphAttribute converted{node.attributes.size(), {}, list};
        for (size_t g = 0; g < attribute.graphs.size(); ++g) {
          GraphConverter body(shared_, *attribute.graphs[g], this, &sink,
                              at + (list ? "[" + std::to_string(g) + "]" : std::string()));
          converted.bodies.push_back(std::make_unique<ir::Graph>(body.convert()));
        }
        node.attributes.push_back({proto.name(), {}});
        graph_attributes.push_back(std::move(converted));
      } else if (kind == onnx::AttributeProto::TENSOR) {
        if (!attribute.tensor) source_.fail("tensor attribute holds no tensor", at);
        node.attributes.push_back({proto.name(), parsed_tensor_value(attribute.tensor->whole, source_, at)});
      } else {
        node.attributes.push_back({proto.name(), convert_attribute(proto, kind, source_, at)});
      }
    }
    if (graph_attributes.empty()) return;

    std::sort(graph_attributes.begin(), graph_attributes.end(), [&](const auto& a, const auto& b) {
      return node.attributes[a.attribute].name < node.attributes[b.attribute].name;
    });
    std::vector<ir::Graph*> bodies;
    for (auto& attribute : graph_attributes) {
      for (auto& body : attribute.bodies) bodies.push_back(body.get());
    }
    canonicalize_captures(bodies, sink.refs, sink.names);
    node.captures.assign(sink.refs.begin(), sink.refs.end());
    for (auto& attribute : graph_attributes) {
      std::vector<ir::AttrValue> graphs;
      for (auto& body : attribute.bodies) graphs.emplace_back(ir::GraphPtr(std::move(body)));
      node.attributes[attribute.attribute].value =
          attribute.list ? ir::AttrValue::list(std::move(graphs)) : std::move(graphs.front());
    }
  }

  void bind_outputs() {
    for (size_t i = 0; i < wire_.outputs.size(); ++i) {
      const onnx::ValueInfoProto& info = wire_.outputs[i];
      const std::string where = where_ + ".output[" + std::to_string(i) + "] ('" + info.name() + "')";
      if (info.name().empty()) source_.fail("graph output has no name", where);
      const std::optional<ValueRef> ref =
          i < early_outputs_.size() && early_outputs_[i] ? early_outputs_[i] : scope_.resolve(info.name());
      if (!ref) source_.fail("graph output is not produced by any node, graph input or initializer", where);
      ir::GraphOutput output{*ref, info.name(), {}};
      if (info.has_type()) output.type = to_tensor_type(info.type(), source_, where);
      graph_.outputs.push_back(std::move(output));
    }
  }

  void check_acyclic() const {
    if (sorted_) return;  // every node reads only nodes before it
    if (const std::optional<uint32_t> blocked = ir::topological_order(graph_).blocked)
      source_.fail("the graph has a cycle", node_where(*blocked));
  }

  Shared& shared_;
  const ErrorSource& source_;
  const WireGraph& wire_;
  // wire_.initializers, where the caller lets the converter release them once converted (the model's
  // graph).
  std::vector<WireTensor>* releasable_initializers_ = nullptr;
  std::string where_;
  GraphConverter* parent_;  // the enclosing graph's converter; null for the model's graph
  ModelPages pages_;  // the model graph's: the mapped file's pages its passes over the nodes are done with
  Scope scope_;
  // A graph without subgraphs: its own names, resolved in sequential passes (else scope_.names).
  std::optional<DeferredNames> deferred_;
  NameMap<uint32_t> input_index_;  // with deferred_: graph inputs by name, while initializers are declared
  ir::Graph graph_;
  std::vector<Origin> origin_;  // per IR node: what it came from (the wire node to convert; messages)
  bool sorted_ = true;          // no node reads a node stored after it (so there is no cycle)
  std::vector<uint32_t> dropouts_to_decide_;            // mark_if_random's, for mark_dropout
  std::vector<std::optional<ValueRef>> early_outputs_;  // outputs the deferred join resolved
};

}  // namespace

ir::Graph convert_model(WireModel& model, const ModelLocation& location, const OnnxLoadOptions& options,
                        const ErrorSource& source) {
  if (!model.graph) source.fail("model has no graph", "model");
  Shared shared{location, options, source, OpResolver(model.opset_import, model.functions, source)};
  ir::Graph graph;
  {
    GraphConverter converter(shared, *model.graph, nullptr, nullptr, "graph");
    converter.release_initializers_when_converted(model.graph->initializers);
    graph = converter.convert();
  }
  // The wire form is done: freed now, and its blocks handed back, before the caller keys the graph.
  const size_t nodes = model.graph->nodes.size();
  model.graph.reset();
  return_freed_memory(nodes, kTrimWireFrom);
  return graph;
}

}  // namespace graphcache::onnx_frontend
