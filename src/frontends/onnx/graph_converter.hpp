// WireModel -> ir::Graph: name resolution (with scopes for subgraphs), weight slots, Constant handling,
// schema defaults and structural checks (undefined names, duplicate definitions, cycles).
//
// Nodes may be listed in any order (a cycle is an error, not an ordering problem). Names are resolved per
// graph: inputs, initializers and node outputs of the graph itself first, then enclosing graphs (a
// capture). A graph input that also has an initializer is a graph input: ONNX (IR >= 4) makes that
// initializer an overridable default, a runtime value the key must not bake in.
#pragma once

#include <cstdint>
#include <string>

#include "graphcache/ir.hpp"
#include "graphcache/onnx.hpp"
#include "wire_model.hpp"

namespace graphcache {
class MappedFile;
}

namespace graphcache::onnx_frontend {

struct ModelLocation {
  std::string model_path;         // absolute path of the .onnx file; empty for in-memory models
  const uint8_t* base = nullptr;  // start of the model bytes (WeightData::kMemory when model_path is empty)
  std::string base_dir;           // canonical folder for external data; empty refuses external data
  // The mapped model file (null for in-memory models): the converter releases its pages as it passes them.
  const MappedFile* file = nullptr;
};

// Releases parts of `model` once converted (the model graph's initializers, then the whole graph), so that
// they and the whole converted graph are not in memory together.
ir::Graph convert_model(WireModel& model, const ModelLocation& location, const OnnxLoadOptions& options,
                        const ErrorSource& source);

}  // namespace graphcache::onnx_frontend
