// ONNX front end: loads a .onnx model (embedded initializers or external data) into the canonical IR.
//
// What the loader does with each part of a model (details in src/frontends/onnx/):
// - Nodes keep their ONNX identity: OpId{domain ("ai.onnx" -> ""), op_type, "", since_version of the
//   schema the model's opset_import selects}. Attributes the schema gives a default are filled in, so an
//   explicit default and an omitted attribute load identically. Omitted optional inputs are ValueRef::none().
// - Graph inputs keep their declared order and types. An input that also has an initializer is a graph
//   input whose default_value is that initializer (keyed or fingerprinted like any other initializer:
//   compilers bake it in).
// - Other initializers are weight slots pointing at their bytes (WeightData::kFile: the .onnx file or the
//   external data file). The bytes are never read. Exception, for soundness: small initializers that are
//   really arguments (integer/bool tensors such as shapes, axes and indices, and any tensor of at most
//   `max_elements_by_value` elements) are keyed by value, as if they were Constant nodes.
// - Constant nodes are nodes with a TensorValue attribute; a Constant larger than `max_constant_bytes`
//   becomes a weight slot instead.
// - If/Loop/Scan bodies are GraphPtr attributes; values a body reads from enclosing graphs become
//   ValueRef::capture(i), listed in the owning node's `captures` in order of first use.
// - Intermediate value_info is ignored: it is derived by shape inference and does not change the program.
//
// Malformed input never crashes: every problem throws graphcache::Error(kInvalidModel,
// "<file>: <what>: <where>") (kIo for a missing/unreadable file, kUnsupported for valid models we
// deliberately do not handle).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "graphcache/ir.hpp"

namespace graphcache {

struct OnnxLoadOptions {
  // Constant nodes whose tensor payload is larger than this become weight slots (their bytes stay in the
  // file) instead of by-value TensorValue attributes.
  size_t max_constant_bytes = 64 * 1024;
  // Integer/bool initializers with at most this many payload bytes are keyed by value (they are shapes,
  // axes, indices: compilers constant-fold them and cannot refit them).
  size_t max_integer_initializer_bytes = 64 * 1024;
  // Initializers of any dtype with at most this many elements are keyed by value (scalars and short
  // vectors such as Resize scales or Clip bounds are arguments, not refittable weights).
  size_t max_elements_by_value = 16;
};

// Loads a model file. The file is memory-mapped; weight payloads are skipped, never read.
ir::Graph load_onnx_file(const std::string& path, const OnnxLoadOptions& options = {});

// Loads a serialized ModelProto held in memory. External data paths are resolved against `base_dir`
// (empty: external data is refused). Embedded weights get WeightData::kMemory pointing into `bytes`,
// valid only while the caller keeps `bytes` alive.
ir::Graph load_onnx_bytes(std::string_view bytes, const std::string& base_dir,
                          const OnnxLoadOptions& options = {});

}  // namespace graphcache
