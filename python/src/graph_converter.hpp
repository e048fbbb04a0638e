// torch.fx graph -> ir::Graph, walked in C++ through the Python C API (no Python-level loop per node).
//
// Mapping (the key is only as sound as this mapping; every choice below errs towards a miss):
//  - placeholder: graph input in fx order (or, for an ExportedProgram, a weight slot when its signature
//    lifts a parameter / buffer / constant tensor); types from node.meta["val"] (FakeTensor, SymInt dims
//    as symbols) or meta["tensor_meta"] / meta["example_value"], else the caller's example inputs.
//  - get_attr: a weight slot (dtype/shape only, bytes never read), deduplicated by tensor identity so tied
//    weights share a slot; a GraphModule attribute (control-flow branches) becomes a subgraph attribute.
//  - call_function: OpOverload -> OpId{namespace, name, overload}; OpOverloadPacket -> overload "";
//    HigherOrderOperator -> domain "higher_order"; other callables -> domain "python", name
//    "module.qualname" (lambdas and local functions are refused: their names do not identify the code).
//    User functions (not torch / operator / math / builtins) also key what they run: overload
//    "code:<digest>" from graphcache._code_identity (bytecode, constants, defaults, closure cells, globals
//    read, recursively); code reading values it cannot identify is refused unless it carries
//    __graphcache_version__. Custom ops (namespaces other than aten / prims) key their schema string
//    (attribute "$schema"); ops with a dtype argument that the call leaves out key the dtype export
//    recorded in node.meta ("$dtype": factory ops follow torch.get_default_dtype()).
//  - random ops (schema tag nondeterministic_seeded, random function / method names, dropout / rrelu
//    modules in training) are ir::Node::nondeterministic: two draws are never merged by the key.
//  - output types: for targets whose definition ships with torch (OpOverload / OpOverloadPacket /
//    HigherOrderOperator, and functions of torch, operator, math, builtins) a node's output types are a
//    function of its operands' types and its arguments, all of which the key already holds, so node.meta
//    is not read for them (as Inductor's FxGraphCache keys on the graph code and input metadata only);
//    reading a FakeTensor's .shape was a third of the walk. Other targets (user functions, methods,
//    modules) keep their meta types as a further check.
//  - constants: non-parameter tensors that are integer / bool (index buffers, masks) or lifted constants
//    (up to 64 Ki elements), or have at most 8 elements (what Inductor inlines), are keyed by value (node
//    fx.tensor_constant); parameters, mutated buffers, meta tensors (no value) and larger float buffers
//    are weight slots. A non-contiguous weight goes through a torch.strided_weight node that records
//    its strides.
//  - layout: setting "graphcache.torch.layout" lists each graph input's device type and (when not
//    contiguous) strides, and the device types of the weights (ir::TensorType has neither).
//  - call_method: domain "method", name = method name.
//  - call_module: domain "module", name = qualified class name (classes outside torch: overload
//    "code:<digest>" of every method of the class, as for user functions); the module's whole state except
//    tensor bytes is an attribute: every instance attribute (hyper-parameters, training flag, private
//    fields), its parameters/buffers as weight operands, its children recursively. Hooks, or attributes that
//    cannot be encoded, are refused (Error kUnsupported) - flatten such modules (torch.export, or a
//    Tracer whose is_leaf_module returns False) instead. Exception: the input-guard module that
//    ExportedProgram.module() inserts (torch.export._unlift.GuardsFn) is keyed by its class only; it
//    checks input types that the key already covers.
//  - args: positional arguments are attributes "0", "1"...; kwargs by name; nested tuple/list/dict (in
//    insertion order)/slice and scalars map to AttrValue; fx nodes inside become OperandIndex entries.
//  - outputs: the leaves of the output node's (nested) args in order; the nesting itself is recorded in
//    the setting "graphcache.fx.output_tree".
//  - side effects: nodes without users that are impure (fx Node.is_impure: asserts, side-effectful
//    functions; plus in-place and out= writes and random draws) are appended as extra outputs named
//    "$effect:<node>", so they stay in the key; unused pure nodes are dropped (they change nothing).
//    If any node mutates (in-place method/op, inplace=True, out=),
//    every node also gets its fx position as attribute "$position", since order then carries meaning.
//  - bound methods (obj.method as a call target) are refused: the object's state is invisible.
// Works for symbolic_trace graphs, ExportedProgram (via exported_program.hpp), ExportedProgram.module()
// and Dynamo (torch.compile backend) GraphModules. During the walk torch-function dispatch for tensor
// subclasses and the cyclic GC are paused (see WalkScope): both only cost time here.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "graphcache/ir.hpp"
#include "graphcache/key.hpp"
#include "node_value_map.hpp"
#include "placeholder_table.hpp"
#include "torch_types.hpp"

namespace graphcache::py_frontend {

// How one placeholder is bound (an ExportedProgram's signature lifts weights to placeholders).
struct PlaceholderBinding {
  enum class Kind { kInput, kWeight };
  Kind kind = Kind::kInput;
  std::string_view name;            // user input name or weight FQN (see ConvertOptions::keep_alive)
  PyObject* name_object = nullptr;  // the exact str `name` views, where there is one (borrowed, held there)
  // kWeight: the real tensor (borrowed; ConvertOptions::keep_alive holds it) and what it is, for the
  // by-value rule (detail::key_by_value).
  PyObject* tensor = nullptr;
  bool parameter = false;
  bool lifted_constant = false;
};

// What one flattened graph output means (ExportedProgram output specs).
struct OutputBinding {
  std::string kind;    // "" for a user output, else e.g. "buffer_mutation"
  std::string target;  // mutated buffer / input name, if any
};

struct ConvertOptions {
  // Per placeholder in order: the type to use when node.meta has none (from example inputs).
  std::vector<std::optional<ir::TensorType>> input_types;
  // Export only: bindings by placeholder name; output meanings by flattened output position.
  // Names are views into Python strings that `keep_alive` holds (no copy per weight: a Llama signature
  // lists hundreds).
  PlaceholderTable<PlaceholderBinding> placeholders;
  std::vector<py::object> keep_alive;
  std::vector<OutputBinding> outputs;
  // Refuse graph inputs whose type is unknown (a key without input shapes would be unsound).
  bool require_input_types = true;
  // Copy fx node names into the IR (for diff explanations); the key never reads them.
  bool node_names = true;
};

struct ConvertedGraph {
  ir::Graph graph;
  std::vector<std::string> input_names, output_names;
  // The str object of each weight slot's name where the walk had one (an ExportedProgram's spec
  // targets), else null: the key's weight-name list reuses them instead of building new strings.
  std::vector<py::object> weight_name_objects;
  std::vector<Setting> settings;  // structure facts kept outside the IR (output tree, dynamic ranges)
};

// `owner` is the GraphModule whose attributes get_attr / call_module targets name.
ConvertedGraph convert_fx_graph(py::handle owner, py::handle fx_graph, const ConvertOptions& options);

namespace detail {

struct TargetInfo {
  ir::OpRef op;  // one op shared by every node that calls this target
  bool mutating = false;
  // A random op (schema tag nondeterministic_seeded, or a known random function / method): never merged.
  bool nondeterministic = false;
  // Custom (non-aten / prims) ops: the schema string, keyed as attribute "$schema" - the op's name alone
  // does not say which signature and aliasing the registered definition has.
  std::string schema;
  // Position of a "dtype" argument whose default follows torch.get_default_dtype() (factory ops such as
  // aten.zeros); -1 if none. When the call leaves it out, the dtype export recorded in node.meta is keyed.
  int dtype_arg = -1;
  // The definition ships with torch / Python: output types follow from operand types and arguments.
  bool types_follow_from_inputs = false;
};

// State of one graph conversion, shared by the argument and module encoders.
struct GraphState {
  const TorchTypes& t;
  py::handle owner;
  ir::Graph graph;
  NodeValueMap values;                                // fx node -> its value
  NodeValueMap weight_by_object;                      // tensor (by identity) -> its weight slot
  std::unordered_map<PyObject*, TargetInfo> targets;  // resolved call_function targets
  std::vector<py::object> keep_alive;                 // keys of `targets`
  bool mutates = false;

  // The weight slot for a tensor object (tied tensors share one), created on first use.
  ir::ValueRef weight_for(py::handle tensor, std::string name);
  // Type and index of a torch.device. Reading device.type formats a new string (~1 us) and every
  // FakeTensor has its own device object; devices are immutable, so one equal (==) to a device seen
  // before has its answer.
  // Anything else with .type / .index (a tensor subclass's device) is read every time.
  ir::Device device(py::handle torch_device);
  std::vector<std::pair<py::object, ir::Device>> devices;  // for device(); held: addresses may recur
  // The device type of a tensor or FakeTensor ("cpu", "cuda"). A FakeTensor's is read from its fields
  // (TorchTypes::fake_device_field) with the class checked once per walk and each fake mode's
  // in_kernel_invocation read once per walk: the walk runs no fake kernel, so neither changes during it.
  std::string device_type(py::handle tensor);
  int fake_class_unpatched = -1;  // for device_type(): unknown / no / yes
  py::object fake_mode;           // the mode device_type() checked last, and its answer
  bool fake_mode_outside_kernel = false;
};

// Encodes one argument; fx nodes and tensors inside become operands appended to node.inputs.
ir::AttrValue encode_arg(GraphState& s, ir::Node& node, py::handle value, int depth = 0);
// Small constants are keyed by value, not as weight slots: integer / bool buffers and attributes (index
// tensors, masks) and lifted constants up to 64 Ki elements, and any non-parameter tensor of at most 8
// elements (what Inductor inlines into generated code). Parameters and meta tensors (no value) stay slots.
bool key_by_value(const TorchTypes& t, py::handle tensor, bool parameter, bool lifted_constant);
// The constant value of a tensor (bytes read through graphcache._code_identity.tensor_bytes).
ir::TensorValue tensor_value(const TorchTypes& t, py::handle tensor);
// "cpu", "cuda:(4, 1)"...: device type and, when not contiguous, the strides of a tensor/FakeTensor.
std::string layout_of(GraphState& s, py::handle tensor, bool with_strides);
// dtype/shape of a tensor, FakeTensor or TensorMetadata; nullopt if `value` is none of them.
std::optional<ir::TensorType> tensor_type_of(const TorchTypes& t, py::handle value);
// Appends the output types of a node from node.meta (one output per element of a tuple/list value).
void outputs_from_meta(const TorchTypes& t, py::handle meta, ir::NodeVector<ir::NodeOutput>& outs);
const TargetInfo& resolve_function_target(GraphState& s, py::handle target);
// The state of a called submodule as one attribute value (see the header comment); sets `mutating`
// when the module works in place.
ir::AttrValue encode_module(GraphState& s, ir::Node& node, py::handle module, const std::string& path,
                            bool& mutating);
std::string utf8(PyObject* str);
// The UTF-8 bytes of a str, valid while the str lives (its cached UTF-8 form); throws like utf8().
std::string_view utf8_view(PyObject* str);
// Random functions / methods / modules by name (ops with schemas use their nondeterministic_seeded tag).
bool is_random_name(std::string_view name);
// The digest of what user code runs (graphcache._code_identity.fingerprint); throws kUnsupported.
std::string user_code_digest(py::handle function_or_class);

}  // namespace detail
}  // namespace graphcache::py_frontend
