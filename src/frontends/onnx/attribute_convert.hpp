// ONNX AttributeProto -> IR attribute value (every kind except graphs, which the graph converter owns).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "graphcache/ir.hpp"
#include "wire_model.hpp"

namespace graphcache::onnx_frontend {

// The attribute's kind: its declared type, or (old models without `type`) the one field that is set.
onnx::AttributeProto::AttributeType attribute_kind(const onnx::AttributeProto& attribute, bool has_tensor,
                                                   bool has_graph, bool has_graphs);

// Converts a non-graph attribute. FLOAT widens to double exactly (bits of -0.0 and NaN payloads kept);
// tensors become TensorValue in raw layout; sparse tensors and type protos become tagged tuples so they
// never equal a plain tensor or string.
ir::AttrValue convert_attribute(const onnx::AttributeProto& attribute,
                                onnx::AttributeProto::AttributeType kind, const ErrorSource& source,
                                const std::string& where);

}  // namespace graphcache::onnx_frontend
