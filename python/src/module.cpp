// graphcache._core: the C++ side of the Python package (pybind11; no libtorch linkage).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.hpp"
#include "explain_bindings.hpp"
#include "exported_program.hpp"
#include "fingerprint_bindings.hpp"
#include "graph_converter.hpp"
#include "graphcache/error.hpp"
#include "graphcache/key.hpp"
#include "graphcache/key_metadata.hpp"
#include "key_request.hpp"
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

py::dict key_result(ConvertedGraph converted, KeyRequest request, py::handle facts,
                    py::handle weight_fingerprint) {
  const PreparedKey p = prepare_key(std::move(converted), std::move(request), facts, weight_fingerprint);
  const KeyResult result = compute_key(p.hashed, p.request);
  py::list structural;
  for (const auto& f : p.converted.graph.facts) structural.append(py::make_tuple(f.name, f.value));
  // Each name list becomes a Python list once; the metadata dict shares them (a Llama has hundreds of
  // weight names, and both copies were ~2% of a key).
  py::list weights = p.weight_names, inputs = py::cast(p.converted.input_names),
           outputs = py::cast(p.converted.output_names);
  py::dict metadata = metadata_to_dict(entry_metadata(result, {}, {}, {}));
  metadata["weight_slots"] = weights;
  metadata["input_names"] = inputs;
  metadata["output_names"] = outputs;
  py::dict out;
  out["key"] = result.key.hex();
  out["parts"] = key_parts_hex(result.parts);
  out["weights"] = weights;
  out["inputs"] = inputs;
  out["outputs"] = outputs;
  out["nodes"] = p.converted.graph.nodes.size();
  out["reachable_nodes"] = result.structure.reachable_nodes;
  out["structural_settings"] = structural;
  out["metadata"] = metadata;
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
  std::vector<ir::GraphFact> graph_facts;
  add_python_facts(graph_facts, facts);
  HashedGraph hashed{StructuralInfo{Digest::from_hex(structure_hex), {}, 0}, input_count, graph_facts};
  KeyRequest request = parse_request(settings, toolchain, input_specs, refit_mode);
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
        auto request = gp::parse_request(settings, toolchain, input_specs, refit_mode);
        gp::ConvertOptions options;
        options.input_types = gp::parse_input_types(input_types);
        options.node_names = false;
        return gp::key_result(gp::convert_fx_graph(gm, gm.attr(t.s_graph), options), std::move(request),
                              facts, weight_fingerprint);
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
        auto request = gp::parse_request(settings, toolchain, input_specs, refit_mode);
        return gp::key_result(gp::convert_exported_program(ep, /*node_names=*/false), std::move(request),
                              facts, weight_fingerprint);
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
  gp::bind_explain(m);
  gp::bind_fingerprint(m);
}
