// call_module: a leaf module's full state, minus tensor bytes, as one attribute value.
//
// symbolic_trace keeps every torch.nn module as a leaf (call_module), so the module's hyper-parameters
// live in the module object, not in the graph. repr(module) is not enough (MultiheadAttention hides
// num_heads), so every instance attribute is encoded; parameters and buffers become weight operands.
#include <algorithm>

#include "graph_converter.hpp"
#include "graphcache/error.hpp"
#include "graphcache/limits.hpp"

namespace graphcache::py_frontend::detail {

namespace {

bool is_bookkeeping(const std::string& name) {
  // Containers handled separately, and state_dict bookkeeping that does not affect forward().
  return name == "_parameters" || name == "_buffers" || name == "_modules" ||
         name == "_non_persistent_buffers_set";
}

using Items = std::vector<std::pair<std::string, PyObject*>>;

Items sorted_items(PyObject* dict) {
  Items items;
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (PyDict_Next(dict, &pos, &k, &v)) {
    if (PyUnicode_Check(k)) items.emplace_back(utf8(k), v);
  }
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return items;
}

ir::AttrValue encode_rec(GraphState& s, ir::Node& node, py::handle module, const std::string& path,
                         bool& mutating, int depth) {
  const TorchTypes& t = s.t;
  const std::string where = "module '" + path + "' (" + qualified_name(py::type::handle_of(module)) + ")";
  if (depth > kMaxNestingDepth) throw Error(ErrorKind::kUnsupported, where + ": modules nested too deeply");
  py::object dict = module.attr(t.s_dict);
  if (!PyDict_Check(dict.ptr())) throw Error(ErrorKind::kUnsupported, where + ": has no instance __dict__");

  auto operand = [&](py::handle tensor, const std::string& name) -> ir::AttrValue {
    if (tensor.is_none()) return {};
    node.inputs.push_back(s.weight_for(tensor, path.empty() ? name : path + "." + name));
    return ir::OperandIndex{static_cast<uint32_t>(node.inputs.size() - 1)};
  };

  ir::Sequence config{ir::Sequence::Kind::kDict, {}};
  for (const auto& [name, value] : sorted_items(dict.ptr())) {
    if (is_bookkeeping(name)) continue;
    py::handle v(value);
    if (name.find("hook") != std::string::npos) {
      // Hooks run around forward(); a graph that calls this module would run them too.
      if (v.is_none() || (PyDict_Check(value) && PyDict_Size(value) == 0)) continue;
      throw Error(ErrorKind::kUnsupported,
                  where + " has " + name +
                      ": hooks are code the key cannot see; remove them or flatten the "
                      "module (torch.export or a non-leaf tracer)");
    }
    if (t.is(v, t.nn_module))
      throw Error(ErrorKind::kUnsupported,
                  where + ": attribute '" + name +
                      "' is a module that is not registered as a child; flatten the module");
    if (name == "inplace" && value == Py_True) mutating = true;
    config.items.emplace_back(name);
    try {
      config.items.push_back(t.is(v, t.tensor) ? operand(v, name) : encode_arg(s, node, v));
    } catch (const Error& e) {
      throw Error(e.kind(), where + ", attribute '" + name + "': " + e.what() +
                                " (flatten the module: torch.export or a tracer with is_leaf_module False)");
    }
  }

  ir::Sequence tensors{ir::Sequence::Kind::kDict, {}};
  for (const py::str* container : {&t.s_parameters, &t.s_buffers}) {
    py::object d = module.attr(*container);
    for (const auto& [name, value] : sorted_items(d.ptr())) {
      tensors.items.emplace_back(name);
      tensors.items.push_back(operand(value, name));
    }
  }

  ir::Sequence children{ir::Sequence::Kind::kDict, {}};
  py::object modules = module.attr(t.s_modules);
  for (const auto& [name, child] : sorted_items(modules.ptr())) {
    children.items.emplace_back(name);
    children.items.push_back(
        child == Py_None
            ? ir::AttrValue{}
            : encode_rec(s, node, child, path.empty() ? name : path + "." + name, mutating, depth + 1));
  }

  return ir::Sequence{ir::Sequence::Kind::kDict,
                      {"class", qualified_name(py::type::handle_of(module)), "config", std::move(config),
                       "tensors", std::move(tensors), "children", std::move(children)}};
}

}  // namespace

ir::AttrValue encode_module(GraphState& s, ir::Node& node, py::handle module, const std::string& path,
                            bool& mutating) {
  return encode_rec(s, node, module, path, mutating, 0);
}

}  // namespace graphcache::py_frontend::detail
