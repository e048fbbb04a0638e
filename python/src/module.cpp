// graphcache._core: the C++ side of the Python package (pybind11; no libtorch linkage).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.hpp"
#include "exported_program.hpp"
#include "fingerprint_bindings.hpp"
#include "graph_converter.hpp"
#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/key_metadata.hpp"
#include "store_bindings.hpp"

namespace graphcache::py_frontend {

namespace {

constexpr const char* kModuleDoc =
    R"doc(graphcache._core - keys for torch.fx / torch.export graphs, computed in C++.

The graph is walked through the Python C API (no per-node Python loop, no libtorch link, weight bytes
never read) into graphcache's IR and hashed there (Merkle hash, SHA-256). Use the `graphcache` package
for the friendly API; these functions are its building blocks.

key_fx(gm, settings=[], toolchain={}, input_types=None, input_specs=None, facts=None, refit_mode=None,
       weight_fingerprint=None) -> dict
key_export(ep, settings=[], toolchain={}, input_specs=None, facts=None, refit_mode=None,
           weight_fingerprint=None) -> dict
    settings:    list of (name: str, value: str, engine_relevant: bool); irrelevant ones are not hashed.
                 Reserved names (below, and graphcache.refit_mode / graphcache.weight_fingerprint) are refused.
    facts:       list of (name, value) graph facts the caller knows (graphcache.fx.pytree_info,
                 graphcache.torch.example_layout); keyed like the front end's own.
    refit_mode:  None or "refittable" / "refit_identical" / "none" (keyed; the weight-bound ones need
                 weight_fingerprint).
    weight_fingerprint: None, a hex digest, or a callable(weight names in slot order) -> hex digest, called
                 after the graph walk (one walk per key).
    toolchain:   dict str -> str (compiler / GPU identity), hashed as its own key part.
    input_types: per graph input, None or (torch.dtype or None, shape or None) with shape items int,
                 str (a symbol) or None (unknown); used only where node.meta has no 'val'/'tensor_meta'.
                 A GraphModule without shape metadata needs it (else InvalidArgumentError).
    input_specs: list of (input_index, min_shape, opt_shape, max_shape) optimization-profile ranges.
    Returns {"key": hex, "parts": {"structure", "input_specs", "settings", "toolchain": hex},
             "weights": [weight names in canonical slot order], "inputs": [graph input names],
             "outputs": [graph output names], "nodes": int, "reachable_nodes": int,
             "structural_settings": [(name, value)]  # graph facts, hashed as settings,
             "metadata": {...}  # entry metadata of the key (key_metadata.hpp): key_parts, names, refit mode...}
compose_key(structure, input_count=0, facts=None, settings=None, toolchain=None, input_specs=None,
            refit_mode=None, weight_fingerprint=None) -> {"key", "parts"}: the key of an already-hashed structure.
diff(a, b, input_types_a=None, input_types_b=None) -> list[str]
    a, b: GraphModule or ExportedProgram. Explains why their structural keys differ ([] if they agree).
diff_fx(a, b, ...) -> list[str]: the same, kept for symmetry with key_fx.
graph_stats(model, input_types=None) -> dict: converts without hashing (nodes, weights, inputs, outputs).
LocalStore(path, max_bytes=None, max_entries=None, compress=None, fsync=None): the local disk store,
    get/put/remove/list/stats/gc/verify/clear/entry_path (see python/src/store_bindings.hpp).

Graph facts (ir::GraphFact), hashed as engine-relevant settings under reserved names:
    graphcache.fx.output_tree        nesting of the output node's args, e.g. "(*,[*,*])"
    graphcache.export.dynamic_ranges per symbolic input dim, its canonical symbol and range
    graphcache.export.call_spec      the exported program's input / output pytree specs (calling convention)
    graphcache.torch.layout          device type + non-contiguous strides per input; weights' device types
    graphcache.torch.example_layout  (set by graphcache.key for GraphModules) the example inputs' layout

Errors: graphcache.Error and its subclasses InvalidArgumentError, InvalidModelError, UnsupportedError,
IoError, CorruptError, InternalError (see graph_converter.hpp for what is refused and why).
)doc";

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

std::vector<std::optional<ir::TensorType>> parse_input_types(py::handle types) {
  std::vector<std::optional<ir::TensorType>> out;
  if (types.is_none()) return out;
  for (py::handle item : types) out.push_back(parse_input_type(item));
  return out;
}

KeyRequest parse_request(py::handle settings, py::handle toolchain, py::handle input_specs) {
  KeyRequest request;
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

// The front end's structure facts become the graph's facts (ir::GraphFact), which src/key hashes and diffs.
void facts_into_ir(ConvertedGraph& converted) {
  for (auto& s : converted.settings) converted.graph.facts.push_back({std::move(s.name), std::move(s.value)});
  converted.settings.clear();
}

// Facts that graphcache.key (Python) knows about the model beyond its graph: [(name, value)].
void add_python_facts(ConvertedGraph& converted, py::handle facts) {
  if (facts.is_none()) return;
  for (py::handle f : facts) {
    auto t = f.cast<py::tuple>();
    if (t.size() != 2) throw Error(ErrorKind::kInvalidArgument, "facts items are (name, value)");
    converted.graph.facts.push_back({t[0].cast<std::string>(), t[1].cast<std::string>()});
  }
}

// refit_mode: None or a RefitMode spelling. weight_fingerprint: None, a hex digest, or a callable taking
// the weight names in canonical slot order and returning the hex digest (computed after the one walk).
py::dict key_result(ConvertedGraph converted, KeyRequest request, py::handle facts, py::handle refit_mode,
                    py::handle weight_fingerprint) {
  facts_into_ir(converted);
  add_python_facts(converted, facts);
  if (!refit_mode.is_none()) request.refit_mode = parse_refit_mode(refit_mode.cast<std::string>());
  HashedGraph hashed;
  {
    py::gil_scoped_release unlocked;  // pure C++ from here: other Python threads may run
    hashed = hash_graph(converted.graph);
  }
  const std::vector<std::string> weight_names = weight_slot_names(converted.graph, hashed.structure);
  if (PyCallable_Check(weight_fingerprint.ptr())) {
    request.weight_fingerprint =
        Digest::from_hex(py::str(weight_fingerprint(weight_names)).cast<std::string>());
  } else if (!weight_fingerprint.is_none()) {
    request.weight_fingerprint = Digest::from_hex(weight_fingerprint.cast<std::string>());
  }
  const KeyResult result = compute_key(hashed, request);
  py::list structural;
  for (const auto& f : converted.graph.facts) structural.append(py::make_tuple(f.name, f.value));
  py::dict out;
  out["key"] = result.key.hex();
  out["parts"] = key_parts_hex(result.parts);
  out["weights"] = weight_names;
  out["inputs"] = converted.input_names;
  out["outputs"] = converted.output_names;
  out["nodes"] = converted.graph.nodes.size();
  out["reachable_nodes"] = result.structure.reachable_nodes;
  out["structural_settings"] = structural;
  out["metadata"] =
      metadata_to_dict(entry_metadata(result, converted.input_names, converted.output_names, weight_names));
  return out;
}

std::vector<std::string> diff_models(py::handle a, py::handle b, py::handle types_a, py::handle types_b) {
  ConvertedGraph ga = convert_any(a, types_a);
  ConvertedGraph gb = convert_any(b, types_b);
  facts_into_ir(ga);
  facts_into_ir(gb);
  py::gil_scoped_release unlocked;
  return explain_difference(ga.graph, gb.graph);  // graph facts first, then the structure
}

// The key of an already-hashed structure (a digest from anywhere, e.g. `graphcache key --json`): the same
// composition as every other key, for tools and for checking that C++ and Python compose alike.
py::dict compose_key(const std::string& structure_hex, size_t input_count, py::handle facts,
                     py::handle settings, py::handle toolchain, py::handle input_specs, py::handle refit_mode,
                     py::handle weight_fingerprint) {
  ConvertedGraph empty;
  add_python_facts(empty, facts);
  HashedGraph hashed{StructuralInfo{Digest::from_hex(structure_hex), {}, 0}, input_count, empty.graph.facts};
  KeyRequest request = parse_request(settings, toolchain, input_specs);
  if (!refit_mode.is_none()) request.refit_mode = parse_refit_mode(refit_mode.cast<std::string>());
  if (!weight_fingerprint.is_none())
    request.weight_fingerprint = Digest::from_hex(weight_fingerprint.cast<std::string>());
  const KeyResult result = compute_key(hashed, request);
  py::dict out;
  out["key"] = result.key.hex();
  out["parts"] = key_parts_hex(result.parts);
  return out;
}

}  // namespace

}  // namespace graphcache::py_frontend

PYBIND11_MODULE(_core, m) {
  namespace gp = graphcache::py_frontend;
  namespace py = pybind11;
  m.doc() = gp::kModuleDoc;
  gp::register_errors(m);
  m.def(
      "key_fx",
      [](py::handle gm, py::handle settings, py::handle toolchain, py::handle input_types,
         py::handle input_specs, py::handle facts, py::handle refit_mode, py::handle weight_fingerprint) {
        const auto& t = gp::TorchTypes::get();
        if (!t.is(gm, t.fx_graph_module))
          throw graphcache::Error(graphcache::ErrorKind::kInvalidArgument,
                                  "expected a torch.fx.GraphModule or torch.export.ExportedProgram, got " +
                                      gp::qualified_name(py::type::handle_of(gm)) +
                                      " (trace it first: torch.fx.symbolic_trace or torch.export.export)");
        auto request = gp::parse_request(settings, toolchain, input_specs);
        gp::ConvertOptions options;
        options.input_types = gp::parse_input_types(input_types);
        options.node_names = false;
        return gp::key_result(gp::convert_fx_graph(gm, gm.attr(t.s_graph), options), std::move(request),
                              facts, refit_mode, weight_fingerprint);
      },
      py::arg("gm"), py::arg("settings") = py::none(), py::arg("toolchain") = py::none(),
      py::arg("input_types") = py::none(), py::arg("input_specs") = py::none(), py::arg("facts") = py::none(),
      py::arg("refit_mode") = py::none(), py::arg("weight_fingerprint") = py::none(),
      "Key of a torch.fx.GraphModule (see the module docstring).");
  m.def(
      "key_export",
      [](py::handle ep, py::handle settings, py::handle toolchain, py::handle input_specs, py::handle facts,
         py::handle refit_mode, py::handle weight_fingerprint) {
        const auto& t = gp::TorchTypes::get();
        if (!t.is(ep, t.exported_program))
          throw graphcache::Error(graphcache::ErrorKind::kInvalidArgument,
                                  "key_export expects a torch.export.ExportedProgram");
        auto request = gp::parse_request(settings, toolchain, input_specs);
        return gp::key_result(gp::convert_exported_program(ep, /*node_names=*/false), std::move(request),
                              facts, refit_mode, weight_fingerprint);
      },
      py::arg("ep"), py::arg("settings") = py::none(), py::arg("toolchain") = py::none(),
      py::arg("input_specs") = py::none(), py::arg("facts") = py::none(), py::arg("refit_mode") = py::none(),
      py::arg("weight_fingerprint") = py::none(),
      "Key of a torch.export.ExportedProgram (see the module docstring).");
  m.def(
      "graph_stats",
      [](py::handle model, py::handle input_types) {
        gp::ConvertedGraph g = gp::convert_any(model, input_types);
        py::dict d;
        d["nodes"] = g.graph.nodes.size();
        d["weights"] = g.graph.weights.size();
        d["inputs"] = g.graph.inputs.size();
        d["outputs"] = g.graph.outputs.size();
        return d;
      },
      py::arg("model"), py::arg("input_types") = py::none(),
      "Converts a model to the IR without hashing it: counts of nodes, weights, inputs, outputs.");
  m.def("diff", &gp::diff_models, py::arg("a"), py::arg("b"), py::arg("input_types_a") = py::none(),
        py::arg("input_types_b") = py::none(), "Why two models' structural keys differ; [] when they agree.");
  m.def("compose_key", &gp::compose_key, py::arg("structure"), py::arg("input_count") = 0,
        py::arg("facts") = py::none(), py::arg("settings") = py::none(), py::arg("toolchain") = py::none(),
        py::arg("input_specs") = py::none(), py::arg("refit_mode") = py::none(),
        py::arg("weight_fingerprint") = py::none(), "The key of an already-hashed structure digest (hex).");
  m.def("diff_fx", &gp::diff_models, py::arg("a"), py::arg("b"), py::arg("input_types_a") = py::none(),
        py::arg("input_types_b") = py::none(), "Alias of diff().");
  gp::bind_local_store(m);
  gp::bind_fingerprint(m);
}
