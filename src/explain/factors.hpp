// The readable key factors an entry records (metadata extra "graphcache.factors", JSON):
//   {"key", "structure": hex, "settings": {name: value} (engine-relevant, refit mode excluded),
//    "refit_mode": value of the graphcache.refit_mode setting or "", "toolchain": {name: value},
//    "input_specs": {"#<input>": "min A opt B max C"}, "model": path or name}
// and their comparison, which names each differing item with its cached and current value.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graphcache/explain.hpp"

namespace graphcache::explain {

nlohmann::json factors_json(const ir::Graph& graph, const KeyRequest& request, const KeyResult& result,
                            const std::string& model);
// Throws nlohmann::json::exception if `cached` is not a factors object.
std::vector<ExplainDifference> compare_factors(const nlohmann::json& cached, const nlohmann::json& current);

}  // namespace graphcache::explain
