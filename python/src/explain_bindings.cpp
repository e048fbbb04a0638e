#include "explain_bindings.hpp"

#include <pybind11/stl.h>

#include "graphcache/error.hpp"
#include "graphcache/explain.hpp"
#include "key_request.hpp"

namespace graphcache::py_frontend {
namespace {

namespace py = pybind11;

// The graph and the request exactly as key_fx / key_export hash them (key_request.hpp).
PreparedKey prepare(py::handle model, py::handle input_types, py::handle settings, py::handle toolchain,
                    py::handle input_specs, py::handle facts, py::handle refit_mode,
                    py::handle weight_fingerprint) {
  return prepare_key(convert_any(model, input_types),
                     parse_request(settings, toolchain, input_specs, refit_mode), facts, weight_fingerprint);
}

}  // namespace

void bind_explain(py::module_& m) {
  m.def(
      "explain_fields",
      [](py::handle model, py::handle input_types, py::handle settings, py::handle toolchain,
         py::handle input_specs, const std::string& model_name, py::handle facts, py::handle refit_mode,
         py::handle weight_fingerprint) {
        const PreparedKey p = prepare(model, input_types, settings, toolchain, input_specs, facts, refit_mode,
                                      weight_fingerprint);
        py::gil_scoped_release unlocked;
        const KeyResult result = compute_key(p.hashed, p.request);
        return std::make_pair(result.key.hex(),
                              explain_fields(p.converted.graph, p.request, result, model_name));
      },
      py::arg("model"), py::arg("input_types") = py::none(), py::arg("settings") = py::none(),
      py::arg("toolchain") = py::none(), py::arg("input_specs") = py::none(), py::arg("model_name") = "",
      py::arg("facts") = py::none(), py::arg("refit_mode") = py::none(),
      py::arg("weight_fingerprint") = py::none(),
      "(key_hex, metadata extra fields recording the model's key factors)");
  m.def(
      "explain",
      [](py::handle model, py::handle input_types, py::handle settings, py::handle toolchain,
         py::handle input_specs, const std::string& cache_dir, py::handle remote, py::handle facts,
         py::handle refit_mode, py::handle weight_fingerprint) {
        const PreparedKey p = prepare(model, input_types, settings, toolchain, input_specs, facts, refit_mode,
                                      weight_fingerprint);
        ExplainSources sources;
        sources.cache_dir = cache_dir;
        if (!remote.is_none()) sources.remote = RedisConfig::from_url(remote.cast<std::string>());
        std::vector<std::string> warnings;
        Explanation e;
        {
          py::gil_scoped_release unlocked;
          e = explain_miss(p.converted.graph, p.request, sources,
                           [&warnings](const std::string& w) { warnings.push_back(w); });
        }
        py::dict out;
        out["json"] = e.json();
        out["lines"] = e.lines();
        out["warnings"] = warnings;
        return out;
      },
      py::arg("model"), py::arg("input_types") = py::none(), py::arg("settings") = py::none(),
      py::arg("toolchain") = py::none(), py::arg("input_specs") = py::none(), py::arg("cache_dir") = "",
      py::arg("remote") = py::none(), py::arg("facts") = py::none(), py::arg("refit_mode") = py::none(),
      py::arg("weight_fingerprint") = py::none(),
      "Why the model misses the cache: {'json', 'lines', 'warnings'}");
}

}  // namespace graphcache::py_frontend
