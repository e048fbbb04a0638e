#include "explain_bindings.hpp"

#include <pybind11/stl.h>

#include "graphcache/error.hpp"
#include "graphcache/explain.hpp"

namespace graphcache::py_frontend {
namespace {

namespace py = pybind11;

// The graph and the request exactly as key_fx / key_export hash them (front-end facts as settings).
struct Prepared {
  ConvertedGraph converted;
  KeyRequest request;
};

Prepared prepare(const ConvertModel& convert, const ParseRequest& parse_request, py::handle model,
                 py::handle input_types, py::handle settings, py::handle toolchain, py::handle input_specs) {
  Prepared p{convert(model, input_types), parse_request(settings, toolchain, input_specs)};
  for (const auto& s : p.converted.settings) {
    for (const auto& user : p.request.settings)
      if (user.name == s.name)
        throw Error(ErrorKind::kInvalidArgument, "setting name '" + s.name + "' is reserved");
    p.request.settings.push_back(s);
  }
  return p;
}

}  // namespace

void bind_explain(py::module_& m, ConvertModel convert, ParseRequest parse_request) {
  m.def(
      "explain_fields",
      [convert, parse_request](py::handle model, py::handle input_types, py::handle settings,
                               py::handle toolchain, py::handle input_specs, const std::string& model_name) {
        Prepared p = prepare(convert, parse_request, model, input_types, settings, toolchain, input_specs);
        py::gil_scoped_release unlocked;
        const KeyResult result = compute_key(p.converted.graph, p.request);
        return std::make_pair(result.key.hex(),
                              explain_fields(p.converted.graph, p.request, result, model_name));
      },
      py::arg("model"), py::arg("input_types") = py::none(), py::arg("settings") = py::none(),
      py::arg("toolchain") = py::none(), py::arg("input_specs") = py::none(), py::arg("model_name") = "",
      "(key_hex, metadata extra fields recording the model's key factors)");
  m.def(
      "explain",
      [convert, parse_request](py::handle model, py::handle input_types, py::handle settings,
                               py::handle toolchain, py::handle input_specs, const std::string& cache_dir,
                               py::handle remote) {
        Prepared p = prepare(convert, parse_request, model, input_types, settings, toolchain, input_specs);
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
      py::arg("remote") = py::none(), "Why the model misses the cache: {'json', 'lines', 'warnings'}");
}

}  // namespace graphcache::py_frontend
