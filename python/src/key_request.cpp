#include "key_request.hpp"

#include <pybind11/stl.h>

#include "exported_program.hpp"
#include "graphcache/error.hpp"
#include "graphcache/key_metadata.hpp"
#include "torch_types.hpp"

namespace graphcache::py_frontend {

namespace py = pybind11;

namespace {

std::optional<ir::TensorType> parse_input_type(py::handle item) {
  if (item.is_none()) return std::nullopt;
  auto pair = item.cast<py::tuple>();
  if (pair.size() != 2)
    throw Error(ErrorKind::kInvalidArgument, "input_types items are (dtype, shape) or None");
  ir::TensorType type;
  if (!pair[0].is_none()) type.dtype = TorchTypes::get().to_dtype(pair[0]);
  if (!pair[1].is_none()) {
    std::vector<ir::Dim> dims;
    for (py::handle d : pair[1]) {
      if (d.is_none()) {
        dims.push_back(ir::Dim::unknown());
      } else if (PyUnicode_Check(d.ptr())) {
        dims.push_back(ir::Dim::symbolic(d.cast<std::string>()));
      } else {
        const auto v = d.cast<int64_t>();
        if (v < 0) throw Error(ErrorKind::kInvalidArgument, "input_types: negative dimension");
        dims.push_back(ir::Dim::fixed(v));
      }
    }
    type.shape = std::move(dims);
  }
  return type;
}

}  // namespace

std::vector<std::optional<ir::TensorType>> parse_input_types(py::handle types) {
  std::vector<std::optional<ir::TensorType>> out;
  if (types.is_none()) return out;
  for (py::handle item : types) out.push_back(parse_input_type(item));
  return out;
}

KeyRequest parse_request(py::handle settings, py::handle toolchain, py::handle input_specs,
                         py::handle refit_mode) {
  KeyRequest request;
  if (!refit_mode.is_none()) request.refit_mode = parse_refit_mode(refit_mode.cast<std::string>());
  if (!settings.is_none()) {
    for (py::handle s : settings) {
      auto t = s.cast<py::tuple>();
      if (t.size() != 3)
        throw Error(ErrorKind::kInvalidArgument, "settings items are (name, value, engine_relevant)");
      if (!PyUnicode_Check(t[0].ptr()) || !PyUnicode_Check(t[1].ptr()))
        throw Error(ErrorKind::kInvalidArgument, "setting names and values must be str");
      request.settings.push_back(
          Setting{t[0].cast<std::string>(), t[1].cast<std::string>(), t[2].cast<bool>()});
    }
  }
  if (!toolchain.is_none()) {
    for (auto [k, v] : toolchain.cast<py::dict>()) {
      if (!PyUnicode_Check(k.ptr()) || !PyUnicode_Check(v.ptr()))
        throw Error(ErrorKind::kInvalidArgument, "toolchain names and values must be str");
      request.toolchain[k.cast<std::string>()] = v.cast<std::string>();
    }
  }
  if (!input_specs.is_none()) {
    for (py::handle s : input_specs) {
      auto t = s.cast<py::tuple>();
      if (t.size() != 4)
        throw Error(ErrorKind::kInvalidArgument, "input_specs items are (input, min, opt, max)");
      request.input_specs.push_back(InputSpec{t[0].cast<uint32_t>(), t[1].cast<std::vector<int64_t>>(),
                                              t[2].cast<std::vector<int64_t>>(),
                                              t[3].cast<std::vector<int64_t>>()});
    }
  }
  return request;
}

ConvertedGraph convert_any(py::handle model, py::handle input_types) {
  const TorchTypes& t = TorchTypes::get();
  if (t.is(model, t.exported_program)) return convert_exported_program(model);
  if (t.is(model, t.fx_graph_module)) {
    ConvertOptions options;
    options.input_types = parse_input_types(input_types);
    return convert_fx_graph(model, model.attr(t.s_graph), options);
  }
  throw Error(ErrorKind::kInvalidArgument,
              "expected a torch.fx.GraphModule or torch.export.ExportedProgram, got " +
                  qualified_name(py::type::handle_of(model)));
}

void facts_into_ir(ConvertedGraph& converted) {
  for (auto& s : converted.settings) converted.graph.facts.push_back({std::move(s.name), std::move(s.value)});
  converted.settings.clear();
}

void add_python_facts(std::vector<ir::GraphFact>& out, py::handle facts) {
  if (facts.is_none()) return;
  for (py::handle f : facts) {
    auto t = f.cast<py::tuple>();
    if (t.size() != 2) throw Error(ErrorKind::kInvalidArgument, "facts items are (name, value)");
    out.push_back({t[0].cast<std::string>(), t[1].cast<std::string>()});
  }
}

PreparedKey prepare_key(ConvertedGraph converted, KeyRequest request, py::handle facts,
                        py::handle weight_fingerprint) {
  PreparedKey p{std::move(converted), std::move(request), {}, py::list()};
  facts_into_ir(p.converted);
  add_python_facts(p.converted.graph.facts, facts);
  {
    py::gil_scoped_release unlocked;  // pure C++ from here: other Python threads may run
    p.hashed = hash_graph(p.converted.graph);
  }
  // Each name once as a Python str: the spec target's own where the walk kept it (a BERT has ~400).
  const auto& objects = p.converted.weight_name_objects;
  for (uint32_t w : p.hashed.structure.weight_order) {
    if (w < objects.size() && objects[w]) {
      p.weight_names.append(objects[w]);
    } else {
      p.weight_names.append(py::str(p.converted.graph.weights[w].name));
    }
  }
  if (PyCallable_Check(weight_fingerprint.ptr())) {
    // A copy: the callable may change the list it gets, and the key's own list is returned.
    auto names = py::reinterpret_steal<py::list>(PySequence_List(p.weight_names.ptr()));
    if (!names) throw py::error_already_set();
    p.request.weight_fingerprint = Digest::from_hex(py::str(weight_fingerprint(names)).cast<std::string>());
  } else if (!weight_fingerprint.is_none()) {
    p.request.weight_fingerprint = Digest::from_hex(weight_fingerprint.cast<std::string>());
  }
  return p;
}

}  // namespace graphcache::py_frontend
