// Fingerprint of a graph's weights in the key's canonical slot order.
#include <string>
#include <vector>

#include "graphcache/error.hpp"
#include "graphcache/fingerprint.hpp"

namespace graphcache {

Digest fingerprint_graph_weights(const ir::Graph& graph, const std::vector<uint32_t>& weight_order,
                                 const FingerprintOptions& options) {
  std::vector<WeightView> views;
  views.reserve(weight_order.size());
  for (uint32_t index : weight_order) {
    if (index >= graph.weights.size()) {
      throw Error(ErrorKind::kInvalidArgument, "weight order names slot " + std::to_string(index) +
                                                   " but the graph has " +
                                                   std::to_string(graph.weights.size()));
    }
    const ir::WeightSlot& slot = graph.weights[index];
    if (!slot.type.shape) {
      throw Error(ErrorKind::kInvalidArgument, "weight '" + slot.name + "' has no shape");
    }
    WeightView view{slot.type.dtype, {}, slot.data, slot.name};
    for (const ir::Dim& dim : *slot.type.shape) {
      if (!dim.is_static()) {
        throw Error(ErrorKind::kInvalidArgument, "weight '" + slot.name + "' has a non-static dim");
      }
      view.dims.push_back(dim.value);
    }
    views.push_back(std::move(view));
  }
  return fingerprint_weights(views, options);
}

}  // namespace graphcache
