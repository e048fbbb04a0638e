// The walk over one fx graph: placeholders, weights, calls and outputs (mapping documented in the header).
#include "graph_converter.hpp"

#include <cctype>
#include <functional>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>

#include "attr_paths.hpp"
#include "graphcache/error.hpp"
#include "graphcache/limits.hpp"
#include "node_fields.hpp"

namespace graphcache::py_frontend {

using detail::GraphState;

namespace {

enum class OpKind { kPlaceholder, kGetAttr, kCallFunction, kCallMethod, kCallModule, kOutput };

OpKind op_kind(const std::string& op) {
  if (op == "call_function") return OpKind::kCallFunction;
  if (op == "placeholder") return OpKind::kPlaceholder;
  if (op == "get_attr") return OpKind::kGetAttr;
  if (op == "call_method") return OpKind::kCallMethod;
  if (op == "call_module") return OpKind::kCallModule;
  if (op == "output") return OpKind::kOutput;
  throw Error(ErrorKind::kInvalidModel, "unknown fx node op '" + op + "'");
}

// The value node.meta describes (FakeTensor, TensorMetadata, SymInt, tuple...), borrowed; null if none.
PyObject* meta_value(const TorchTypes& t, py::handle meta) {
  if (!PyDict_Check(meta.ptr())) return nullptr;
  for (const py::str* k : {&t.s_val, &t.s_tensor_meta, &t.s_example_value}) {
    if (PyObject* v = PyDict_GetItem(meta.ptr(), k->ptr())) return v;
  }
  return nullptr;
}

bool ends_with_inplace_underscore(const std::string& name) {
  return name.size() > 1 && name.back() == '_' && name[name.size() - 2] != '_';
}

class Converter {
 public:
  Converter(py::handle owner, const ConvertOptions& options)
      : s_{TorchTypes::get(), owner, {}, {}, {}, {}, {}, false, {}},
        options_(options),
        fields_(s_.t.fx_node, {&s_.t.s_op, &s_.t.s_target, &s_.t.s_args, &s_.t.s_kwargs, &s_.t.s_meta,
                               &s_.t.s_name, &s_.t.s_next}) {}

  ConvertedGraph run(py::handle fx_graph) {
    const TorchTypes& t = s_.t;
    py::object root = fx_graph.attr(t.s_root);
    const auto size = static_cast<size_t>(py::len(fx_graph.attr("nodes")));
    // Node vectors come from one arena that lives with the graph (sized for a typical node's operands,
    // attributes and output; it grows as needed).
    s_.graph.arena = std::make_shared<std::pmr::monotonic_buffer_resource>(size * 160 + 4096);
    s_.graph.nodes.reserve(size + 8);
    fx_node_of_.reserve(size + 8);
    s_.values.reserve(size);
    bool saw_output = false;
    for (py::object n = fields_.get(root, NodeFields::kNext); !n.is(root);
         n = fields_.get(n, NodeFields::kNext)) {
      py::object op = fields_.get(n, NodeFields::kOp);
      // fx op names are interned literals: one pointer compare for the common case.
      const OpKind kind =
          op.ptr() == call_function_.ptr() ? OpKind::kCallFunction : op_kind(detail::utf8(op.ptr()));
      // Placeholders and get_attr nodes read their name themselves, where they need it (a weight's is
      // only looked up, never copied).
      const bool is_call =
          kind != OpKind::kPlaceholder && kind != OpKind::kGetAttr && kind != OpKind::kOutput;
      const bool named = options_.node_names && is_call;
      std::string name = named ? node_name(n) : std::string();
      if (saw_output)
        throw Error(ErrorKind::kInvalidModel, "node '" + node_name(n) + "' follows the output node");
      switch (kind) {
        case OpKind::kPlaceholder:
          placeholder(n);
          break;
        case OpKind::kGetAttr:
          get_attr(n);
          break;
        case OpKind::kOutput:
          output(n);
          saw_output = true;
          break;
        default:
          try {
            call(n, kind, std::move(name));
          } catch (const Error& e) {
            if (named) throw;
            throw Error(e.kind(), "node '" + node_name(n) + "': " + e.what());
          }
          break;
      }
    }
    if (!saw_output) throw Error(ErrorKind::kInvalidModel, "the fx graph has no output node");
    finish();
    out_.graph = std::move(s_.graph);
    return std::move(out_);
  }

 private:
  std::string node_name(py::handle n) const { return detail::utf8(fields_.get(n, NodeFields::kName).ptr()); }

  void placeholder(py::handle n) {
    const TorchTypes& t = s_.t;
    py::object name_object = fields_.get(n, NodeFields::kName);  // holds the view's bytes
    const std::string_view node_name_view = detail::utf8_view(name_object.ptr());
    PyObject* val = meta_value(t, fields_.get(n, NodeFields::kMeta));
    std::optional<ir::TensorType> type = val ? detail::tensor_type_of(t, val) : std::nullopt;
    std::string name;
    if (!options_.placeholders.empty()) {
      const PlaceholderBinding* binding = options_.placeholders.find(node_name_view);
      if (!binding)
        throw Error(ErrorKind::kInvalidModel,
                    "placeholder '" + std::string(node_name_view) + "' is not in the graph signature");
      if (binding->kind == PlaceholderBinding::Kind::kWeight) {
        if (!type)
          throw Error(ErrorKind::kInvalidModel,
                      "weight placeholder '" + std::string(node_name_view) + "' has no tensor metadata");
        const PlaceholderBinding& b = *binding;
        if (b.tensor && detail::key_by_value(s_.t, b.tensor, b.parameter, b.lifted_constant)) {
          note_weight_device(py::handle(val));
          add_constant(n, py::handle(b.tensor), std::string(node_name_view));
          return;
        }
        const auto index = static_cast<uint32_t>(s_.graph.weights.size());
        s_.graph.weights.push_back(ir::WeightSlot{std::string(b.name), std::move(*type), {}});
        if (b.name_object) {
          out_.weight_name_objects.resize(index);
          out_.weight_name_objects.push_back(py::reinterpret_borrow<py::object>(b.name_object));
        }
        bind_weight(n, ir::ValueRef::weight(index), py::handle(val));
        return;
      }
      name = std::string(binding->name);
    } else {
      name = std::string(node_name_view);
    }
    const size_t position = s_.graph.inputs.size();
    if (!val) {
      if (position < options_.input_types.size() && options_.input_types[position]) {
        type = options_.input_types[position];
      } else if (options_.require_input_types) {
        throw Error(
            ErrorKind::kInvalidArgument,
            "graph input '" + name +
                "' has no dtype/shape: node.meta has no 'val'/'tensor_meta' and no example input describes "
                "it; pass example_inputs (tensors or input specs) or trace with shape metadata");
      }
    }
    // Device and strides of tensor inputs: compiled code is built for both (ir::TensorType has neither).
    input_layouts_ += (val && t.is(py::handle(val), t.tensor)) ? detail::layout_of(s_, val, true) : "?";
    input_layouts_ += ';';
    s_.values.emplace(n.ptr(), ir::ValueRef::graph_input(static_cast<uint32_t>(position)));
    s_.graph.inputs.push_back(ir::GraphInput{name, type ? std::move(*type) : ir::TensorType{}});
    out_.input_names.push_back(std::move(name));
  }

  // A weight slot's value for node n. A non-contiguous weight (a transposed parameter) goes through a
  // node that records its strides: compiled code indexes the constant with the strides it was built for,
  // and the slot's type has none.
  void bind_weight(py::handle n, ir::ValueRef slot, py::handle tensor) {
    std::string layout = tensor && s_.t.is(tensor, s_.t.tensor) ? detail::layout_of(s_, tensor, true) : "";
    const auto colon = layout.find(':');
    if (!layout.empty()) note_device(std::string_view(layout).substr(0, colon));
    if (colon == std::string::npos) {
      s_.values.emplace(n.ptr(), slot);
      return;
    }
    ir::Node node;
    node.op = ir::OpId{"torch", "strided_weight", "", 0};
    node.name = "strided:" + node_name(n);
    node.inputs.push_back(slot);
    node.attributes.push_back({"strides", layout.substr(colon + 1)});
    node.outputs.emplace_back();
    add_node(n, std::move(node));
  }

  void note_weight_device(py::handle tensor) {
    if (tensor && s_.t.is(tensor, s_.t.tensor)) note_device(detail::layout_of(s_, tensor, false));
  }

  // Weights share a device in practice: the set is only touched when it changes.
  void note_device(std::string_view device) {
    if (!weight_devices_.empty() && device == last_weight_device_) return;
    last_weight_device_ = device;
    weight_devices_.emplace(device);
  }

  // A small constant keyed by value (detail::key_by_value): a node holding the tensor's bytes.
  void add_constant(py::handle n, py::handle tensor, std::string name) {
    ir::Node node;
    node.op = ir::OpId{"fx", "tensor_constant", "", 0};
    node.name = std::move(name);
    node.attributes.push_back({"value", detail::tensor_value(s_.t, tensor)});
    node.outputs.emplace_back();
    add_node(n, std::move(node));
  }

  void get_attr(py::handle n) {
    const TorchTypes& t = s_.t;
    std::string target = detail::utf8(fields_.get(n, NodeFields::kTarget).ptr());
    py::object obj = attr_paths_.resolve(s_.owner, target);
    if (t.is(obj, t.tensor)) {
      const bool lifted =
          target.rfind("_tensor_constant", 0) == 0 || target.find("._tensor_constant") != target.npos;
      if (detail::key_by_value(t, obj, t.is(obj, t.parameter), lifted)) {
        note_weight_device(obj);
        add_constant(n, obj, node_name(n));
        return;
      }
      bind_weight(n, s_.weight_for(obj, std::move(target)), obj);
      return;
    }
    if (t.is(obj, t.fx_graph_module)) {
      // A subgraph (control-flow branch, wrapped region): keyed structurally, names ignored.
      ConvertOptions sub_options;
      sub_options.require_input_types = false;
      ConvertedGraph sub = convert_fx_graph(obj, obj.attr(t.s_graph), sub_options);
      ir::Node node;
      node.op = ir::OpId{"fx", "subgraph", "", 0};
      node.name = node_name(n);
      node.attributes.push_back(
          {"graph", ir::GraphPtr(std::make_shared<const ir::Graph>(std::move(sub.graph)))});
      for (auto& setting : sub.settings) node.attributes.push_back({setting.name, std::move(setting.value)});
      node.outputs.emplace_back();
      add_node(n, std::move(node));
      return;
    }
    throw Error(ErrorKind::kUnsupported, "get_attr '" + target + "' is a " +
                                             qualified_name(py::type::handle_of(obj)) +
                                             ", not a tensor or GraphModule; it cannot be keyed");
  }

  void call(py::handle n, OpKind kind, std::string name) {
    const TorchTypes& t = s_.t;
    // Built in place: a Node is a few hundred bytes, and moving one in costs as much as filling it.
    // Nothing below adds nodes to this graph (reserved for every fx node), so the reference stays
    // valid; if conversion fails, the whole graph is dropped.
    const auto index = static_cast<uint32_t>(s_.graph.nodes.size());
    ir::Node& node = s_.graph.nodes.emplace_back(s_.graph.arena.get());
    node.name = std::move(name);
    fx_node_of_.push_back(n.ptr());
    py::object target = fields_.get(n, NodeFields::kTarget);
    bool mutating = false;
    bool types_follow_from_inputs = false;
    const detail::TargetInfo* info = nullptr;
    if (kind == OpKind::kCallFunction) {
      info = &detail::resolve_function_target(s_, target);
      node.op = info->op;
      mutating = info->mutating;
      node.nondeterministic = info->nondeterministic;
      types_follow_from_inputs = info->types_follow_from_inputs;
      if (!info->schema.empty()) node.attributes.push_back({"$schema", info->schema});
    } else if (kind == OpKind::kCallMethod) {
      std::string method = detail::utf8(target.ptr());
      mutating = ends_with_inplace_underscore(method);
      node.nondeterministic = detail::is_random_name(method);
      node.op = ir::OpId{"method", std::move(method), "", 0};
    }
    py::object args = fields_.get(n, NodeFields::kArgs);
    const Py_ssize_t nargs = PyTuple_Check(args.ptr()) ? PyTuple_GET_SIZE(args.ptr()) : 0;
    node.attributes.reserve(static_cast<size_t>(nargs) + 2);
    node.inputs.reserve(static_cast<size_t>(nargs));  // most arguments are operands: one allocation
    for (Py_ssize_t i = 0; i < nargs; ++i)
      node.attributes.push_back(
          {std::to_string(i), detail::encode_arg(s_, node, PyTuple_GET_ITEM(args.ptr(), i))});
    py::object kwargs = fields_.get(n, NodeFields::kKwargs);
    if (PyDict_Check(kwargs.ptr()) && PyDict_GET_SIZE(kwargs.ptr()) > 0) {
      PyObject *k, *v;
      Py_ssize_t pos = 0;
      while (PyDict_Next(kwargs.ptr(), &pos, &k, &v)) {
        std::string key = detail::utf8(k);
        if (key == "inplace" && v == Py_True) mutating = true;
        if (key == "out" && v != Py_None) mutating = true;  // writes into an existing tensor
        node.attributes.push_back({std::move(key), detail::encode_arg(s_, node, v)});
      }
    }
    if (kind == OpKind::kCallModule) {
      const std::string path = detail::utf8(target.ptr());
      py::object module = attr_paths_.resolve(s_.owner, path);
      if (!t.is(module, t.nn_module))
        throw Error(ErrorKind::kInvalidModel, "call_module target '" + path + "' is not a torch.nn.Module");
      py::handle klass = py::type::handle_of(module);
      std::string class_name = qualified_name(klass);
      // Leaf modules of user classes run user code: keyed by what their class runs, not its name.
      std::string code = class_name.rfind("torch.", 0) == 0 ? std::string() : detail::user_code_digest(klass);
      const auto dot = class_name.rfind('.');
      std::string leaf = class_name.substr(dot == std::string::npos ? 0 : dot + 1);
      for (char& c : leaf) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      node.nondeterministic = (leaf.find("dropout") != std::string::npos || leaf == "rrelu") &&
                              py::getattr(module, "training", py::bool_(true)).cast<bool>();
      node.op = ir::OpId{"module", std::move(class_name), std::move(code), 0};
      // ExportedProgram.module() checks its inputs with a generated GuardsFn: input checks derived from
      // the placeholders' types, which the key already covers; its state is generated code.
      if (node.op->name != "torch.export._unlift.GuardsFn")
        node.attributes.push_back({"$module", detail::encode_module(s_, node, module, path, mutating)});
    }
    if (info && info->dtype_arg >= 0 && info->dtype_arg >= nargs &&
        !(PyDict_Check(kwargs.ptr()) && PyDict_GetItemString(kwargs.ptr(), "dtype"))) {
      // A factory op without dtype follows torch.get_default_dtype() at trace time: key what was recorded.
      PyObject* val = meta_value(t, fields_.get(n, NodeFields::kMeta));
      if (val && t.is(py::handle(val), t.tensor))
        node.attributes.push_back({"$dtype", t.to_dtype(py::handle(val).attr(t.s_dtype))});
    }
    if (types_follow_from_inputs) {
      node.outputs.emplace_back();  // one value; getitem nodes pick tuple elements by index
    } else {
      detail::outputs_from_meta(t, fields_.get(n, NodeFields::kMeta), node.outputs);
    }
    s_.mutates = s_.mutates || mutating;
    if (mutating || node.nondeterministic) must_keep_.insert(index);
    s_.values.emplace(n.ptr(), ir::ValueRef::node_output(index));
  }

  // A node without side effects (constant, subgraph): dropped when nothing uses it.
  void add_node(py::handle n, ir::Node node) {
    const auto index = static_cast<uint32_t>(s_.graph.nodes.size());
    s_.graph.nodes.push_back(std::move(node));
    fx_node_of_.push_back(nullptr);
    s_.values.emplace(n.ptr(), ir::ValueRef::node_output(index));
  }

  void output(py::handle n) {
    effect_candidates_ = s_.graph.nodes.size();  // nodes added from here on are synthetic
    py::object args = fields_.get(n, NodeFields::kArgs);
    if (!PyTuple_Check(args.ptr()) || PyTuple_GET_SIZE(args.ptr()) != 1)
      throw Error(ErrorKind::kInvalidModel, "the fx output node must have exactly one argument");
    std::string tree;
    flatten_output(PyTuple_GET_ITEM(args.ptr(), 0), tree, 0);
    out_.settings.push_back(Setting{"graphcache.fx.output_tree", std::move(tree), true});
    std::string devices;
    for (const auto& d : weight_devices_) devices += d + ";";
    out_.settings.push_back(
        Setting{"graphcache.torch.layout", "inputs=" + input_layouts_ + " weights=" + devices, true});
  }

  void flatten_output(py::handle v, std::string& tree, int depth) {
    const TorchTypes& t = s_.t;
    if (depth > kMaxNestingDepth)
      throw Error(ErrorKind::kUnsupported,
                  "graph outputs nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
    PyObject* o = v.ptr();
    if (t.is(v, t.fx_node)) {
      const ir::ValueRef* ref = s_.values.find(o);
      if (!ref) throw Error(ErrorKind::kInvalidModel, "the output uses a node outside the graph");
      leaves_.push_back({*ref, detail::utf8(fields_.get(v, NodeFields::kName).ptr())});
      tree += '*';
    } else if (o == Py_None) {
      leaves_.push_back({ir::ValueRef::none(), ""});
      tree += 'N';
    } else if (PyTuple_Check(o) || PyList_Check(o)) {
      // A namedtuple (or other tuple / list subclass) is a different calling convention: name its type.
      if (!PyTuple_CheckExact(o) && !PyList_CheckExact(o)) tree += qualified_name(py::type::handle_of(v));
      tree += PyTuple_Check(o) ? '(' : '[';
      bool first = true;
      for (py::handle item : v) {
        if (!first) tree += ',';
        first = false;
        flatten_output(item, tree, depth + 1);
      }
      tree += PyTuple_Check(o) ? ')' : ']';
    } else if (PyDict_Check(o)) {
      tree += '{';
      PyObject *k, *item;
      Py_ssize_t pos = 0;
      bool first = true;
      while (PyDict_Next(o, &pos, &k, &item)) {
        if (!first) tree += ',';
        first = false;
        tree += py::repr(k).cast<std::string>() + ':';
        flatten_output(item, tree, depth + 1);
      }
      tree += '}';
    } else {
      // A constant output: a node that produces exactly that value.
      ir::Node node;
      node.op = ir::OpId{"fx", "constant", "", 0};
      node.name = "output_constant" + std::to_string(leaves_.size());
      node.attributes.push_back({"value", detail::encode_arg(s_, node, v)});
      node.outputs.emplace_back();
      const auto index = static_cast<uint32_t>(s_.graph.nodes.size());
      s_.graph.nodes.push_back(std::move(node));
      leaves_.push_back({ir::ValueRef::node_output(index), ""});
      tree += '*';
    }
  }

  void finish() {
    const auto& bindings = options_.outputs;
    if (!bindings.empty() && bindings.size() != leaves_.size())
      throw Error(ErrorKind::kInvalidModel, "the graph signature lists " + std::to_string(bindings.size()) +
                                                " outputs, the graph has " + std::to_string(leaves_.size()));
    for (size_t i = 0; i < leaves_.size(); ++i) {
      if (bindings.empty() || bindings[i].kind.empty()) {
        s_.graph.outputs.push_back(ir::GraphOutput{leaves_[i].ref, leaves_[i].name, {}});
        out_.output_names.push_back(leaves_[i].name);
        continue;
      }
      // A mutation or other non-user output: which state it updates is part of the meaning.
      const OutputBinding& b = bindings[i];
      ir::Node node;
      node.op = ir::OpId{"export", b.kind, "", 0};
      node.name = b.kind + ":" + b.target;
      node.inputs.push_back(leaves_[i].ref);
      node.inputs.push_back(target_ref(b.target, node));
      node.outputs.emplace_back();
      const auto index = static_cast<uint32_t>(s_.graph.nodes.size());
      s_.graph.nodes.push_back(std::move(node));
      s_.graph.outputs.push_back(
          ir::GraphOutput{ir::ValueRef::node_output(index), b.kind + ":" + b.target, {}});
      out_.output_names.push_back(b.kind + ":" + b.target);
    }
    // Nodes nothing uses (fx: no users): side effects such as asserts and in-place updates.
    const size_t fx_nodes = effect_candidates_;
    std::vector<uint8_t> used(fx_nodes, 0);
    auto mark = [&](const ir::ValueRef& r) {
      if (r.kind == ir::ValueRef::Kind::kNodeOutput && r.index < fx_nodes) used[r.index] = 1;
    };
    for (const auto& node : s_.graph.nodes) {
      for (const auto& r : node.inputs) mark(r);
    }
    for (const auto& leaf : leaves_) mark(leaf.ref);
    // Unused pure nodes compute nothing anyone sees: dropped, as torch's own dead-code elimination does
    // (fx Node.is_impure: asserts, mutations, side-effectful functions and modules stay). Random nodes
    // stay too: they advance the generator that later draws read.
    std::vector<uint32_t> effects;
    for (uint32_t i = 0; i < fx_nodes; ++i) {
      if (used[i]) continue;
      PyObject* fx = i < fx_node_of_.size() ? fx_node_of_[i] : nullptr;
      if (!fx) continue;
      if (must_keep_.count(i) > 0 || is_impure(fx)) effects.push_back(i);
    }
    for (uint32_t e : effects) {
      s_.graph.outputs.push_back(
          ir::GraphOutput{ir::ValueRef::node_output(e), "$effect:" + s_.graph.nodes[e].name, {}});
    }
    if (s_.mutates) {
      for (size_t i = 0; i < s_.graph.nodes.size(); ++i)
        s_.graph.nodes[i].attributes.push_back({"$position", static_cast<int64_t>(i)});
    }
  }

  // fx Node.is_impure() of an unused node. For a call_function node of the plain fx.Node type the answer
  // is a function of its target alone (torch._library.utils.is_impure reads the schema, the random tag
  // and the side-effect registries; only higher-order operators such as auto_functionalized look at
  // their arguments), so it is asked once per distinct target: a Llama export has hundreds of unused
  // _assert_tensor_metadata nodes and each call costs ~10 us of Python.
  bool is_impure(PyObject* fx) {
    const TorchTypes& t = s_.t;
    py::handle n(fx);
    PyObject* target = nullptr;
    if (Py_TYPE(fx) == reinterpret_cast<PyTypeObject*>(t.fx_node.ptr()) &&
        fields_.get(n, NodeFields::kOp).ptr() == call_function_.ptr()) {
      py::object target_object = fields_.get(n, NodeFields::kTarget);
      if (!t.is(target_object, t.higher_order_operator)) target = target_object.ptr();  // the graph keeps it
    }
    if (target) {
      if (auto it = impure_by_target_.find(target); it != impure_by_target_.end()) return it->second;
    }
    const bool impure = n.attr("is_impure")().cast<bool>();
    if (target) impure_by_target_.emplace(target, impure);
    return impure;
  }

  ir::ValueRef target_ref(const std::string& target, ir::Node& node) {
    if (target.empty()) return ir::ValueRef::none();
    // Mutated buffers are few: a scan of the slots beats keeping a name index for every weight.
    for (size_t w = 0; w < s_.graph.weights.size(); ++w) {
      if (s_.graph.weights[w].name == target) return ir::ValueRef::weight(static_cast<uint32_t>(w));
    }
    for (size_t i = 0; i < out_.input_names.size(); ++i) {
      if (out_.input_names[i] == target) return ir::ValueRef::graph_input(static_cast<uint32_t>(i));
    }
    node.attributes.push_back({"target", target});  // neither a weight nor an input: keep the name itself
    return ir::ValueRef::none();
  }

  struct OutputLeaf {
    ir::ValueRef ref;
    std::string name;
  };

  GraphState s_;
  const ConvertOptions& options_;
  NodeFields fields_;
  ConvertedGraph out_;
  py::object call_function_ = [] {
    PyObject* p = PyUnicode_InternFromString("call_function");
    if (!p) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(p);
  }();
  std::vector<PyObject*> fx_node_of_;  // per IR node: its fx call node (borrowed), null if pure by kind
  std::string input_layouts_;          // per graph input: device type and non-contiguous strides
  std::set<std::string> weight_devices_;
  std::string last_weight_device_;  // the device note_device() saw last (in weight_devices_)
  std::set<uint32_t> must_keep_;    // mutating and random nodes: effects even when unused
  std::unordered_map<PyObject*, bool> impure_by_target_;  // call_function targets (borrowed) -> is_impure
  AttrPaths attr_paths_{s_.t};
  size_t effect_candidates_ = 0;  // the IR nodes that come from fx nodes (those before the output)
  std::vector<OutputLeaf> leaves_;
};

}  // namespace

namespace {

// While a graph is walked, torch-function dispatch for tensor subclasses (FakeTensor) is off - it halves
// the cost of reading .shape / .dtype and changes nothing that is read - and the cyclic GC is paused:
// the walk allocates many short-lived tuples (torch.Size) but creates no cycles.
class WalkScope {
 public:
  WalkScope() : gc_was_enabled_(PyGC_Disable() == 1) {
    // Looked up once: importing torch._C per walk was ~2% of a key.
    static PyObject* const guard_class = [] {
      return py::object(py::module_::import("torch._C").attr("DisableTorchFunctionSubclass")).release().ptr();
    }();  // leaked on purpose (outlives the interpreter's teardown order)
    guard_ = py::handle(guard_class)();
    guard_.attr("__enter__")();
  }
  ~WalkScope() {
    try {
      guard_.attr("__exit__")(py::none(), py::none(), py::none());
    } catch (const py::error_already_set&) {
      // Leaving the guard cannot fail in practice; never throw from a destructor.
    }
    if (gc_was_enabled_) PyGC_Enable();
  }
  WalkScope(const WalkScope&) = delete;
  WalkScope& operator=(const WalkScope&) = delete;

 private:
  bool gc_was_enabled_;
  py::object guard_;
};

}  // namespace

ConvertedGraph convert_fx_graph(py::handle owner, py::handle fx_graph, const ConvertOptions& options) {
  WalkScope scope;
  return Converter(owner, options).run(fx_graph);
}

}  // namespace graphcache::py_frontend
