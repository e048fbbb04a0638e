// graphcache._core explain functions (include/graphcache/explain.hpp), over the same model conversion and
// request as key_fx / key_export (key_request.hpp); facts / refit_mode / weight_fingerprint as there:
//
// explain_fields(model, input_types, settings, toolchain, input_specs, model_name="", facts=None,
//                refit_mode=None, weight_fingerprint=None) -> (key_hex, dict)
//   the metadata `extra` fields recording the model's key factors, and the key they describe.
// explain(model, input_types, settings, toolchain, input_specs, cache_dir, remote=None, facts=None,
//         refit_mode=None, weight_fingerprint=None)
//   -> {"json": str, "lines": [str]}: hit, or the nearest entries of the local / Redis tier and what differs.
#pragma once

#include <pybind11/pybind11.h>

namespace graphcache::py_frontend {

void bind_explain(pybind11::module_& m);

}  // namespace graphcache::py_frontend
