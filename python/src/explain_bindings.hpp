// graphcache._core explain functions (include/graphcache/explain.hpp), over the same model conversion and
// request parsing as key_fx / key_export (module.cpp passes them in):
//
// explain_fields(model, input_types, settings, toolchain, input_specs, model_name="") -> (key_hex, dict)
//   the metadata `extra` fields recording the model's key factors, and the key they describe.
// explain(model, input_types, settings, toolchain, input_specs, cache_dir, remote=None)
//   -> {"json": str, "lines": [str]}: hit, or the nearest entries of the local / Redis tier and what differs.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>

#include "graph_converter.hpp"

namespace graphcache::py_frontend {

using ConvertModel = std::function<ConvertedGraph(pybind11::handle model, pybind11::handle input_types)>;
using ParseRequest = std::function<KeyRequest(pybind11::handle settings, pybind11::handle toolchain,
                                              pybind11::handle input_specs)>;

void bind_explain(pybind11::module_& m, ConvertModel convert, ParseRequest parse_request);

}  // namespace graphcache::py_frontend
