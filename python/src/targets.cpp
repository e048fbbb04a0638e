// call_function targets -> OpId, cached per target object for the duration of one conversion.
#include <array>
#include <string_view>

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

std::pair<std::string, std::string> split_qualified(const std::string& qualified) {
  auto sep = qualified.find("::");
  if (sep == std::string::npos) return {"", qualified};
  return {qualified.substr(0, sep), qualified.substr(sep + 2)};
}

TargetInfo resolve(const TorchTypes& t, py::handle target) {
  TargetInfo info;
  if (t.is(target, t.op_overload)) {
    py::object schema = target.attr(t.s_schema);
    auto [ns, name] = split_qualified(schema.attr("name").cast<std::string>());
    std::string overload = target.attr(t.s_overloadname).cast<std::string>();
    info.op = ir::OpId{ns, name, overload.empty() ? "default" : overload, 0};
    info.mutating = schema.attr(t.s_is_mutable).cast<bool>();
    info.types_follow_from_inputs = true;
    return info;
  }
  if (t.is(target, t.op_overload_packet)) {
    auto [ns, name] = split_qualified(target.attr(t.s_qualified_op_name).cast<std::string>());
    info.op = ir::OpId{ns, name, "", 0};  // resolved by argument types at run time
    info.mutating = ends_with_inplace_underscore(name);
    info.types_follow_from_inputs = true;
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
  info.op = ir::OpId{"python", std::move(name), "", 0};
  return info;
}

}  // namespace

const TargetInfo& resolve_function_target(GraphState& s, py::handle target) {
  if (auto it = s.targets.find(target.ptr()); it != s.targets.end()) return it->second;
  TargetInfo info = resolve(s.t, target);
  s.keep_alive.push_back(py::reinterpret_borrow<py::object>(target));
  return s.targets.emplace(target.ptr(), std::move(info)).first->second;
}

}  // namespace graphcache::py_frontend::detail
