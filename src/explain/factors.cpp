#include "factors.hpp"

#include <set>

#include "explain_index.hpp"
#include "graphcache/store.hpp"
#include "structure_summary.hpp"

namespace graphcache::explain {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out;
  for (int64_t d : shape) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out.empty() ? "scalar" : out;
}

const char* kind_of(const std::string& group) {
  if (group == "settings") return "setting";
  if (group == "toolchain") return "toolchain";
  return "input_spec";
}

}  // namespace

nlohmann::json factors_json(const ir::Graph& graph, const KeyRequest& request, const KeyResult& result,
                            const std::string& model) {
  nlohmann::json j;
  j["key"] = result.key.hex();
  j["structure"] = result.parts.structure.hex();
  // Everything keyed beside the structure, by the name it is keyed under: the caller's settings, the
  // graph's and the request's facts (reserved names, e.g. exec.arguments) and the weight fingerprint.
  nlohmann::json settings = nlohmann::json::object();
  for (const Setting& s : request.settings) {
    if (s.engine_relevant) settings[s.name] = s.value;
  }
  for (const ir::GraphFact& f : graph.facts) settings[f.name] = f.value;
  for (const ir::GraphFact& f : request.facts) settings[f.name] = f.value;
  if (request.weight_fingerprint)
    settings["graphcache.weight_fingerprint"] = request.weight_fingerprint->hex();
  j["settings"] = settings;
  j["refit_mode"] = request.refit_mode ? to_string(*request.refit_mode) : "";
  j["toolchain"] = request.toolchain;
  nlohmann::json specs = nlohmann::json::object();
  for (const InputSpec& spec : request.input_specs) {
    std::string name = "#" + std::to_string(spec.input);
    if (spec.input < graph.inputs.size() && !graph.inputs[spec.input].name.empty())
      name += " '" + graph.inputs[spec.input].name + "'";
    specs[name] = "min " + shape_text(spec.min_shape) + " opt " + shape_text(spec.opt_shape) + " max " +
                  shape_text(spec.max_shape);
  }
  j["input_specs"] = specs;
  j["model"] = model;
  return j;
}

std::vector<ExplainDifference> compare_factors(const nlohmann::json& cached, const nlohmann::json& current) {
  std::vector<ExplainDifference> out;
  const std::string was_mode = cached.at("refit_mode").get<std::string>();
  const std::string now_mode = current.at("refit_mode").get<std::string>();
  if (was_mode != now_mode)
    out.push_back({"refit_mode", kRefitModeSetting, was_mode, now_mode,
                   "refit mode: '" + was_mode + "' in the cached entry, '" + now_mode + "' now"});
  for (const std::string group : {"settings", "toolchain", "input_specs"}) {
    const auto& c = cached.at(group);
    const auto& n = current.at(group);
    std::set<std::string> names;
    for (const auto& [name, value] : c.items()) names.insert(name);
    for (const auto& [name, value] : n.items()) names.insert(name);
    for (const std::string& name : names) {
      const std::string was = c.contains(name) ? c.at(name).get<std::string>() : "(absent)";
      const std::string now = n.contains(name) ? n.at(name).get<std::string>() : "(absent)";
      if (was == now) continue;
      const std::string kind = kind_of(group);
      const std::string what = kind == "input_spec" ? "input spec" : kind;
      out.push_back({kind, name, was, now,
                     what + " " + name + ": '" + was + "' in the cached entry, '" + now + "' now"});
    }
  }
  return out;
}

}  // namespace graphcache::explain

namespace graphcache {

std::map<std::string, std::string> explain_fields(const ir::Graph& graph, const KeyRequest& request,
                                                  const KeyResult& result, const std::string& model) {
  std::map<std::string, std::string> fields;
  const explain::StructureSummary summary = explain::summarize(graph);
  fields[std::string(store::kFactorsField)] = explain::factors_json(graph, request, result, model).dump();
  std::string hex;
  static constexpr char kDigits[] = "0123456789abcdef";
  for (uint32_t v : explain::minhash(summary))
    for (int shift = 28; shift >= 0; shift -= 4) hex += kDigits[(v >> shift) & 0xf];
  fields[std::string(store::kMinHashField)] = hex;
  std::string encoded = explain::encode_summary(summary);
  if (encoded.size() <= explain::kMaxSummaryBytes)
    fields[std::string(store::kSummaryField)] = std::move(encoded);
  return fields;
}

}  // namespace graphcache
