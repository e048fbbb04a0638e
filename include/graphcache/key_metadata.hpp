// From a key to the metadata of the entry stored under it: the one place that decides what an entry
// records about its key (its parts, the refit mode and weight fingerprint it was keyed with, the graph's
// input / output names and weight names in canonical slot order). The CLI (`key --json`, `exec`) and the
// Python package (`key`, `EngineCache`) use it. A new key part that an entry should record is added here.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "graphcache/ir.hpp"
#include "graphcache/key.hpp"
#include "graphcache/store.hpp"

namespace graphcache {

// {"structure", "input_specs", "settings", "toolchain"} -> hex.
std::map<std::string, std::string> key_parts_hex(const KeyParts& parts);

// The names of the weights in canonical slot order (StructuralInfo::weight_order).
std::vector<std::string> weight_slot_names(const ir::Graph& graph, const StructuralInfo& structure);

// Metadata for an engine built under `result`, with the names the caller's graph uses (the torch front
// end reports its own input / output names). tool_versions, extra and created_unix are left to the caller.
EntryMetadata entry_metadata(const KeyResult& result, std::vector<std::string> input_names,
                             std::vector<std::string> output_names, std::vector<std::string> weight_names);
// The same with the names of `graph`'s inputs, outputs and weights.
EntryMetadata entry_metadata(const KeyResult& result, const ir::Graph& graph);

}  // namespace graphcache
