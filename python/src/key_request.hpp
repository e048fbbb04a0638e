// The request side of every _core key function (key_fx, key_export, compose_key, explain): Python
// arguments -> the IR graph with its facts and the KeyRequest that src/key composes. One place, so that
// a key and the explanation of its miss are computed from the same request.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <vector>

#include "graph_converter.hpp"
#include "graphcache/key.hpp"

namespace graphcache::py_frontend {

// input_types: per graph input, None or (torch.dtype or None, shape or None); see module.cpp's docstring.
std::vector<std::optional<ir::TensorType>> parse_input_types(pybind11::handle types);
// settings [(name, value, engine_relevant)], toolchain {str: str}, input_specs [(input, min, opt, max)],
// refit_mode None or a RefitMode spelling.
KeyRequest parse_request(pybind11::handle settings, pybind11::handle toolchain, pybind11::handle input_specs,
                         pybind11::handle refit_mode = pybind11::none());
// A GraphModule or ExportedProgram, converted (Error(kInvalidArgument) for anything else).
ConvertedGraph convert_any(pybind11::handle model, pybind11::handle input_types);
// The front end's structure facts become the graph's facts (ir::GraphFact), which src/key hashes and diffs.
void facts_into_ir(ConvertedGraph& converted);
// Facts that graphcache.key (Python) knows about the model beyond its graph: [(name, value)].
void add_python_facts(std::vector<ir::GraphFact>& out, pybind11::handle facts);

struct PreparedKey {
  ConvertedGraph converted;     // graph.facts: the front end's and the caller's
  KeyRequest request;           // with the weight fingerprint, when one was given
  HashedGraph hashed;           // the one walk of the graph
  pybind11::list weight_names;  // canonical slot order
};

// Facts into the graph, one hash of it, then the weight fingerprint: None, a hex digest, or a callable
// taking the weight names in canonical slot order and returning the hex digest (after the one walk).
PreparedKey prepare_key(ConvertedGraph converted, KeyRequest request, pybind11::handle facts,
                        pybind11::handle weight_fingerprint);

}  // namespace graphcache::py_frontend
