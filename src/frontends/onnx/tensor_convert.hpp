// Conversions of ONNX tensors and types into IR values.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graphcache/ir.hpp"
#include "wire_model.hpp"

namespace graphcache::onnx_frontend {

// Maps a TensorProto.DataType; throws for values outside the IR's ONNX range (0..23).
ir::DType to_dtype(int64_t onnx_type, const ErrorSource& source, const std::string& where);

bool is_integer_or_bool(ir::DType dtype);

// Product of `dims`; throws for negative dims or overflow.
uint64_t element_count(const std::vector<int64_t>& dims, const ErrorSource& source, const std::string& where);

// Bytes `count` elements occupy in raw_data layout; nullopt for types without a fixed size (string).
std::optional<uint64_t> raw_byte_size(ir::DType dtype, uint64_t count);

// A tensor by value in the IR's canonical layout: typed fields (float_data, int32_data...) are converted
// to raw_data layout, so the same tensor written either way gives the same TensorValue.
ir::TensorValue to_tensor_value(const onnx::TensorProto& tensor, const ErrorSource& source,
                                const std::string& where);

// Declared type of a graph input/output: the innermost tensor type, with the sequence / map / optional /
// sparse layers around it as TensorType::wrappers (outermost first).
ir::TensorType to_tensor_type(const onnx::TypeProto& type, const ErrorSource& source,
                              const std::string& where);

}  // namespace graphcache::onnx_frontend
