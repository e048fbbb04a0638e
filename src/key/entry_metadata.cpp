#include "graphcache/key_metadata.hpp"

namespace graphcache {

std::map<std::string, std::string> key_parts_hex(const KeyParts& parts) {
  return {{"structure", parts.structure.hex()},
          {"input_specs", parts.input_specs.hex()},
          {"settings", parts.settings.hex()},
          {"toolchain", parts.toolchain.hex()}};
}

std::vector<std::string> weight_slot_names(const ir::Graph& graph, const StructuralInfo& structure) {
  std::vector<std::string> names;
  names.reserve(structure.weight_order.size());
  for (uint32_t w : structure.weight_order) names.push_back(graph.weights[w].name);
  return names;
}

EntryMetadata entry_metadata(const KeyResult& result, std::vector<std::string> input_names,
                             std::vector<std::string> output_names, std::vector<std::string> weight_names) {
  EntryMetadata m;
  m.key_parts = key_parts_hex(result.parts);
  m.input_names = std::move(input_names);
  m.output_names = std::move(output_names);
  m.weight_slots = std::move(weight_names);
  m.weight_fingerprint = result.weight_fingerprint;
  if (result.refit_mode) m.refit_mode = to_string(*result.refit_mode);
  return m;
}

EntryMetadata entry_metadata(const KeyResult& result, const ir::Graph& graph) {
  std::vector<std::string> inputs, outputs;
  for (const auto& in : graph.inputs) inputs.push_back(in.name);
  for (const auto& out : graph.outputs) outputs.push_back(out.name);
  return entry_metadata(result, std::move(inputs), std::move(outputs),
                        weight_slot_names(graph, result.structure));
}

}  // namespace graphcache
