// A wire tensor (an initializer, or the value of a Constant too large to key) as IR: its type, its value
// when it is small enough to key by value, or a weight slot whose data is a byte range of the model (or
// of an external file), never a copy of the bytes where a range holds them in raw layout.
#pragma once

#include <string>

#include "graph_converter.hpp"
#include "graphcache/ir.hpp"
#include "graphcache/onnx.hpp"
#include "wire_model.hpp"

namespace graphcache::onnx_frontend {

// Its declared dtype and shape; throws for a negative dimension.
ir::TensorType wire_tensor_type(const WireTensor& tensor, const ErrorSource& source,
                                const std::string& where);

// Whether the key holds its value (small, or an integer tensor up to the options' size) rather than a
// weight slot. External and segmented tensors never.
bool keep_by_value(const WireTensor& tensor, const OnnxLoadOptions& options, const ErrorSource& source,
                   const std::string& where);

// Its value in the IR's canonical layout (to_tensor_value's), read from the wire header where it is plain
// raw_data, else parsed.
ir::TensorValue wire_tensor_value(const WireTensor& tensor, const ErrorSource& source,
                                  const std::string& where);

// A serialized TensorProto's value (to_tensor_value of the parsed message); throws if it does not parse.
ir::TensorValue parsed_tensor_value(Span whole, const ErrorSource& source, const std::string& where);

// The weight slot named `name`: type, and data as a byte range of the model or external file, or the
// converted bytes (typed fields, which no byte range holds in raw layout). Throws for a size that does not
// match its dims, segmented tensors and external data outside the model's folder.
ir::WeightSlot weight_slot_of(const WireTensor& tensor, std::string name, const ModelLocation& location,
                              const ErrorSource& source, const std::string& where);

// Weight data owned by the graph (bytes no range of a file holds).
ir::WeightData owned_weight_bytes(std::string bytes);

}  // namespace graphcache::onnx_frontend
