#include "exported_program.hpp"

#include <cctype>
#include <map>
#include <set>

#include "graphcache/error.hpp"

namespace graphcache::py_frontend {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Attribute names of the export signature, interned once: a C-string getattr would build a new str per
// call, and a Llama signature has hundreds of specs.
struct SpecNames {
  py::str kind = intern("kind"), name = intern("name"), arg = intern("arg"), target = intern("target");
  static py::str intern(const char* s) {
    return py::reinterpret_steal<py::str>(PyUnicode_InternFromString(s));
  }
};
const SpecNames& spec_names() {
  static const SpecNames* names = new SpecNames();  // leaked: must outlive the interpreter's teardown
  return *names;
}

std::string attr_str(py::handle obj, const py::str& name) {
  py::object v = py::getattr(obj, name, py::none());
  return v.is_none() ? std::string() : py::str(v).cast<std::string>();
}

// A value (an attribute read) as a UTF-8 view that lives as long as `options` (it keeps the str); "" for
// None. `kept`, if given, is set to the str kept (borrowed; left as is for None).
std::string_view keep_str(ConvertOptions& options, py::object v, PyObject** kept = nullptr) {
  if (v.is_none()) return {};
  if (!PyUnicode_Check(v.ptr())) v = py::str(v);
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(v.ptr(), &size);
  if (!data) throw py::error_already_set();
  if (kept != nullptr) *kept = v.ptr();
  options.keep_alive.push_back(std::move(v));
  return {data, static_cast<size_t>(size)};
}

// spec.kind.name of an InputKind / OutputKind member. Enum members are singletons and `.name` is a
// Python-level descriptor (~0.5 us per read): the name is kept per member object for the process (the
// members are held, so their addresses are never reused).
std::string kind_name(const TorchTypes& t, py::handle kind) {
  static auto* names = new std::vector<std::pair<PyObject*, std::string>>();  // leaked: outlives teardown
  for (const auto& [member, name] : *names) {
    if (member == kind.ptr()) return name;
  }
  std::string name = kind.attr(spec_names().name).cast<std::string>();
  if (t.is(kind, t.enum_base) && names->size() < 64) {
    Py_INCREF(kind.ptr());
    names->emplace_back(kind.ptr(), name);
  }
  return name;
}

// The tensor a weight spec names (borrowed from `tables`, which the caller holds), constants before the
// state dict (what merging them in that order gives); null if neither has it. A str target is looked up
// as is (its hash is cached), anything else by the text keep_str made of it.
PyObject* tensor_named(py::handle tables_merged, py::handle state_dict, py::handle constants,
                       py::handle target, std::string_view text) {
  py::object key = PyUnicode_CheckExact(target.ptr())
                       ? py::reinterpret_borrow<py::object>(target)
                       : py::reinterpret_steal<py::object>(
                             PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size())));
  if (!key) throw py::error_already_set();
  if (tables_merged) return PyDict_GetItem(tables_merged.ptr(), key.ptr());
  for (py::handle table : {constants, state_dict}) {
    if (PyObject* v = PyDict_GetItem(table.ptr(), key.ptr())) return v;
  }
  return nullptr;
}

// "in0.d1=$0[2,int_oo];..." for every symbolic dim of the graph inputs; symbols renamed by first
// occurrence (as the key does), each symbol's range given where it first appears.
std::string dynamic_ranges(const ir::Graph& graph, const std::map<std::string, std::string>& ranges) {
  std::map<std::string, size_t> ids;
  std::string out;
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    const auto& shape = graph.inputs[i].type.shape;
    if (!shape) continue;
    for (size_t d = 0; d < shape->size(); ++d) {
      const std::string& expr = (*shape)[d].symbol;
      if (expr.empty()) continue;
      out += "in" + std::to_string(i) + ".d" + std::to_string(d) + "=";
      std::string first_seen;
      for (size_t p = 0; p < expr.size();) {
        if (std::isalpha(static_cast<unsigned char>(expr[p])) || expr[p] == '_') {
          size_t q = p;
          while (q < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[q])) || expr[q] == '_'))
            ++q;
          const std::string name = expr.substr(p, q - p);
          if (q < expr.size() && expr[q] == '(') {  // a SymPy function (Max, Min, FloorDiv): not a symbol
            out += name;
            p = q;
            continue;
          }
          auto [it, inserted] = ids.emplace(name, ids.size());
          out += "$" + std::to_string(it->second);
          if (inserted) {
            auto r = ranges.find(name);
            first_seen += "$" + std::to_string(it->second) + (r == ranges.end() ? "[?]" : r->second);
          }
          p = q;
        } else {
          if (!std::isspace(static_cast<unsigned char>(expr[p]))) out += expr[p];
          ++p;
        }
      }
      out += (first_seen.empty() ? "" : " " + first_seen) + ";";
    }
  }
  return out;
}

// What ExportedProgram.call_spec returns (in_spec / out_spec of the root module call), read where that
// property reads it: the property defines a NamedTuple class on every call (~0.3 ms, a tenth of a Llama
// key). None when the call graph is not the usual one (the caller then asks the property itself).
py::object root_call_signature(py::handle ep) {
  py::object graph = py::getattr(ep, "module_call_graph", py::none());
  if (!PyList_Check(graph.ptr()) || PyList_GET_SIZE(graph.ptr()) == 0) return py::none();
  py::handle root = PyList_GET_ITEM(graph.ptr(), 0);
  py::object fqn = py::getattr(root, "fqn", py::none());
  if (!PyUnicode_Check(fqn.ptr()) || PyUnicode_GET_LENGTH(fqn.ptr()) != 0) return py::none();
  return py::getattr(root, "signature", py::none());
}

}  // namespace

ConvertedGraph convert_exported_program(py::handle ep, bool node_names) {
  const TorchTypes& t = TorchTypes::get();
  py::object signature = ep.attr("graph_signature");
  const SpecNames& n = spec_names();
  ConvertOptions options;
  options.node_names = node_names;
  // The real tensors behind weight placeholders (for keying small constants by value): a constant's
  // entry wins over a state_dict entry of the same name (what dict.update in that order gives).
  py::object state_dict = ep.attr("state_dict");
  py::object constants = py::getattr(ep, "constants", py::dict());
  options.keep_alive.push_back(state_dict);
  options.keep_alive.push_back(constants);
  py::object merged;  // only for mappings that are not dicts
  if (!PyDict_Check(state_dict.ptr()) || !PyDict_Check(constants.ptr())) {
    merged = py::dict();
    merged.attr("update")(state_dict);
    merged.attr("update")(constants);
    options.keep_alive.push_back(merged);
  }
  // Buffers the program updates are state, not constants: they stay weight slots.
  std::set<std::string> mutated;
  py::object output_specs = signature.attr("output_specs");
  for (py::handle spec : output_specs) {
    if (kind_name(t, spec.attr(n.kind)) != "USER_OUTPUT") mutated.insert(attr_str(spec, n.target));
  }
  py::object input_specs = signature.attr("input_specs");
  if (PyList_Check(input_specs.ptr())) {
    options.placeholders.reserve(static_cast<size_t>(PyList_GET_SIZE(input_specs.ptr())));
    options.keep_alive.reserve(static_cast<size_t>(PyList_GET_SIZE(input_specs.ptr())) * 2 + 2);
  }
  for (py::handle spec : input_specs) {
    const std::string kind = kind_name(t, spec.attr(n.kind));
    const std::string_view name = keep_str(options, py::getattr(spec.attr(n.arg), n.name, py::none()));
    if (kind == "PARAMETER" || kind == "BUFFER" || kind == "CONSTANT_TENSOR") {
      py::object target = py::getattr(spec, n.target, py::none());
      PyObject* target_str = nullptr;
      PlaceholderBinding b{PlaceholderBinding::Kind::kWeight, keep_str(options, target, &target_str)};
      if (target_str != nullptr && PyUnicode_CheckExact(target_str)) b.name_object = target_str;
      if (mutated.empty() || !mutated.count(std::string(b.name)))
        b.tensor = tensor_named(merged, state_dict, constants, target, b.name);
      b.parameter = kind == "PARAMETER";
      b.lifted_constant = kind == "CONSTANT_TENSOR";
      options.placeholders.set(name, b);
    } else if (kind == "USER_INPUT" || kind == "TOKEN") {
      options.placeholders.set(name, PlaceholderBinding{PlaceholderBinding::Kind::kInput, name});
    } else {
      throw Error(ErrorKind::kUnsupported, "exported program input '" + std::string(name) + "' of kind " +
                                               kind + " (custom objects) cannot be keyed");
    }
  }
  for (py::handle spec : output_specs) {
    const std::string kind = kind_name(t, spec.attr(n.kind));
    if (kind == "USER_OUTPUT") {
      options.outputs.push_back({});
    } else {
      options.outputs.push_back(OutputBinding{lower(kind), attr_str(spec, n.target)});
    }
  }
  py::object gm = ep.attr("graph_module");
  ConvertedGraph converted = convert_fx_graph(gm, gm.attr(t.s_graph), options);

  std::map<std::string, std::string> ranges;
  py::object constraints = py::getattr(ep, "range_constraints", py::dict());
  if (PyDict_Check(constraints.ptr())) {
    for (auto [symbol, range] : py::reinterpret_borrow<py::dict>(constraints)) {
      ranges[py::str(symbol)] = "[" + attr_str(range, "lower") + "," + attr_str(range, "upper") + "]";
    }
  }
  // The calling convention: how user arguments (incl. kwargs names) and outputs (dict keys in order,
  // tuple / list / namedtuple types) are flattened into graph inputs / outputs.
  py::object call_spec = root_call_signature(ep);
  if (call_spec.is_none()) call_spec = py::getattr(ep, "call_spec", py::none());
  if (!call_spec.is_none()) {
    converted.settings.push_back(Setting{"graphcache.export.call_spec",
                                         py::str(call_spec.attr("in_spec")).cast<std::string>() + " -> " +
                                             py::str(call_spec.attr("out_spec")).cast<std::string>(),
                                         true});
  }
  std::string text = dynamic_ranges(converted.graph, ranges);
  if (!text.empty())
    converted.settings.push_back(Setting{"graphcache.export.dynamic_ranges", std::move(text), true});
  return converted;
}

}  // namespace graphcache::py_frontend
