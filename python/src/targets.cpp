// call_function targets -> OpId, cached per target object for the duration of one conversion.
#include <array>
#include <string_view>
#include <unordered_map>

#include "graph_converter.hpp"
#include "graphcache/error.hpp"

namespace graphcache::py_frontend::detail {

namespace {

// Python operators that update their first operand in place.
constexpr std::array<std::string_view, 15> kInPlaceOperators = {
    "_operator.iadd",     "_operator.isub",      "_operator.imul",   "_operator.imatmul",
    "_operator.itruediv", "_operator.ifloordiv", "_operator.imod",   "_operator.ipow",
    "_operator.iand",     "_operator.ior",       "_operator.ixor",   "_operator.ilshift",
    "_operator.irshift",  "_operator.setitem",   "_operator.delitem"};

bool ends_with_inplace_underscore(const std::string& name) {
  // add_ / relu_ update in place; dunder names (__add__) do not.
  return name.size() > 1 && name.back() == '_' && name[name.size() - 2] != '_';
}

// Functions whose code comes with torch or the interpreter (versioned by the key's toolchain part).
bool ships_with_torch_or_python(std::string_view name) {
  for (std::string_view prefix : {"torch.", "_operator.", "operator.", "math.", "builtins."}) {
    if (name.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

// Last component of a dotted name ("torch.nn.functional.dropout" -> "dropout").
std::string_view leaf_name(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

std::pair<std::string, std::string> split_qualified(const std::string& qualified) {
  auto sep = qualified.find("::");
  if (sep == std::string::npos) return {"", qualified};
  return {qualified.substr(0, sep), qualified.substr(sep + 2)};
}

bool ships_with_torch_namespace(const std::string& ns) {
  return ns == "aten" || ns == "prims" || ns == "rngprims" || ns == "higher_order";
}

TargetInfo resolve(const TorchTypes& t, py::handle target) {
  TargetInfo info;
  if (t.is(target, t.op_overload)) {
    py::object schema = target.attr(t.s_schema);
    auto [ns, name] = split_qualified(schema.attr("name").cast<std::string>());
    std::string overload = target.attr(t.s_overloadname).cast<std::string>();
    info.mutating = schema.attr(t.s_is_mutable).cast<bool>();
    info.types_follow_from_inputs = true;
    static const py::object* random_tag =
        new py::object(py::module_::import("torch").attr("Tag").attr("nondeterministic_seeded"));
    py::object tags = py::getattr(target, "tags", py::list());
    info.nondeterministic = PySequence_Contains(tags.ptr(), random_tag->ptr()) == 1 || is_random_name(name);
    if (!ships_with_torch_namespace(ns)) info.schema = py::str(schema).cast<std::string>();
    // Factory ops only (no tensor operand): elsewhere an omitted dtype follows the operands' dtypes.
    int position = 0, dtype_position = -1;
    bool takes_tensors = false;
    for (py::handle arg : schema.attr("arguments")) {
      if (arg.attr("name").cast<std::string>() == "dtype") dtype_position = position;
      if (py::str(arg.attr("type")).cast<std::string>().find("Tensor") != std::string::npos)
        takes_tensors = true;
      ++position;
    }
    if (!takes_tensors) info.dtype_arg = dtype_position;
    info.op = ir::OpId{ns, name, overload.empty() ? "default" : overload, 0};
    return info;
  }
  if (t.is(target, t.op_overload_packet)) {
    auto [ns, name] = split_qualified(target.attr(t.s_qualified_op_name).cast<std::string>());
    info.mutating = ends_with_inplace_underscore(name);
    info.nondeterministic = is_random_name(name);
    info.types_follow_from_inputs = true;
    if (!ships_with_torch_namespace(ns)) {
      // Every overload's schema: the packet resolves among them at run time.
      std::string schemas;
      for (py::handle o : target.attr("overloads")())
        schemas += py::str(target.attr(o).attr(t.s_schema)).cast<std::string>() + ";";
      info.schema = std::move(schemas);
    }
    info.op = ir::OpId{ns, name, "", 0};  // resolved by argument types at run time
    return info;
  }
  if (t.is(target, t.higher_order_operator)) {
    info.op = ir::OpId{"higher_order", target.attr("name")().cast<std::string>(), "", 0};
    info.types_follow_from_inputs = true;  // its semantics are its subgraph operands'
    return info;
  }
  // A method bound to an object carries that object's state, which its name does not identify.
  if (py::object self = py::getattr(target, "__self__", py::none());
      !self.is_none() && !PyModule_Check(self.ptr()) && !PyType_Check(self.ptr()))
    throw Error(ErrorKind::kUnsupported,
                "call target '" + py::repr(target).cast<std::string>() +
                    "' is a method bound to an object whose state the key cannot see");
  std::string name = qualified_name(target);
  if (name.empty() || name.find('<') != std::string::npos)
    throw Error(
        ErrorKind::kUnsupported,
        "call target '" + py::repr(target).cast<std::string>() +
            "' has no stable qualified name (lambda or local function): its name does not identify its "
            "code, so it cannot be keyed; make it a module-level function");
  for (auto op : kInPlaceOperators) info.mutating = info.mutating || name == op;
  const auto dot = name.rfind('.');
  info.mutating =
      info.mutating || ends_with_inplace_underscore(name.substr(dot == std::string::npos ? 0 : dot + 1));
  info.types_follow_from_inputs = ships_with_torch_or_python(name);
  info.nondeterministic = info.types_follow_from_inputs && is_random_name(leaf_name(name));
  // User code (torch.fx.wrap'd functions): keyed by what it runs, not by its name.
  std::string code = info.types_follow_from_inputs ? std::string() : user_code_digest(target);
  info.op = ir::OpId{"python", std::move(name), std::move(code), 0};
  return info;
}

}  // namespace

bool is_random_name(std::string_view name) {
  // Functions / methods / module classes that draw random numbers (ops with schemas also have the tag).
  static constexpr std::array<std::string_view, 30> kRandom = {"rand",           "randn",
                                                               "randint",        "randperm",
                                                               "rand_like",      "randn_like",
                                                               "randint_like",   "bernoulli",
                                                               "bernoulli_",     "multinomial",
                                                               "normal",         "normal_",
                                                               "uniform_",       "random_",
                                                               "exponential_",   "geometric_",
                                                               "log_normal_",    "cauchy_",
                                                               "poisson",        "dropout",
                                                               "dropout_",       "alpha_dropout",
                                                               "dropout1d",      "dropout2d",
                                                               "dropout3d",      "feature_alpha_dropout",
                                                               "rrelu",          "rrelu_",
                                                               "native_dropout", "gumbel_softmax"};
  for (std::string_view r : kRandom) {
    if (name == r) return true;
  }
  return false;
}

std::string user_code_digest(py::handle function_or_class) {
  static const py::object* fingerprint =
      new py::object(py::module_::import("graphcache._code_identity").attr("fingerprint"));
  return "code:" + (*fingerprint)(function_or_class).cast<std::string>();
}

// An OpOverload's resolution reads its schema, tags and every argument's type (~30 us): the fixed cost
// of a walk, since a graph of any size uses a few dozen distinct ops. All of it is fixed when the
// OpOverload object is made (torch.library defines new objects, it does not change a schema), so the
// answer is kept per object for the process, with the object held so that its address is never reused.
// Packets (whose overload set can grow) and Python functions (whose code can change) are resolved per walk.
TargetInfo resolve_cached(const TorchTypes& t, py::handle target) {
  static auto* by_op = new std::unordered_map<PyObject*, TargetInfo>();  // leaked: outlives teardown
  constexpr size_t kMaxOps = 8192;
  if (!t.is(target, t.op_overload)) return resolve(t, target);
  if (auto it = by_op->find(target.ptr()); it != by_op->end()) return it->second;
  TargetInfo info = resolve(t, target);
  if (by_op->size() < kMaxOps) {
    Py_INCREF(target.ptr());
    by_op->emplace(target.ptr(), info);
  }
  return info;
}

const TargetInfo& resolve_function_target(GraphState& s, py::handle target) {
  if (auto it = s.targets.find(target.ptr()); it != s.targets.end()) return it->second;
  TargetInfo info = resolve_cached(s.t, target);
  s.keep_alive.push_back(py::reinterpret_borrow<py::object>(target));
  return s.targets.emplace(target.ptr(), std::move(info)).first->second;
}

}  // namespace graphcache::py_frontend::detail
