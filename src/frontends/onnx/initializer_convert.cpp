#include "initializer_convert.hpp"

#include <onnx/onnx_pb.h>

#include <memory>
#include <optional>

#include "external_data.hpp"
#include "graphcache/error.hpp"
#include "tensor_convert.hpp"

namespace graphcache::onnx_frontend {

namespace {

// The value of a plain tensor with one raw_data whose size fits its dims, read from its header: what
// to_tensor_value gives for it, without parsing it again into a protobuf message (a quarter of a big
// model's nodes are small initializers). nullopt for anything else: to_tensor_value decides (or fails).
std::optional<ir::TensorValue> raw_tensor_value(const WireTensor& tensor, const ErrorSource& source,
                                                const std::string& where) {
  if (!tensor.plain || tensor.payload_field != 9 || tensor.payload_occurrences != 1 || tensor.external ||
      tensor.segmented)
    return std::nullopt;
  const ir::DType dtype = to_dtype(tensor.data_type, source, where);
  const std::optional<uint64_t> expected = raw_byte_size(dtype, element_count(tensor.dims, source, where));
  if (dtype == ir::DType::kUndefined || !expected || *expected != tensor.payload.size) return std::nullopt;
  return ir::TensorValue{
      dtype, tensor.dims,
      std::string(reinterpret_cast<const char*>(tensor.payload.data), tensor.payload.size)};
}

}  // namespace

ir::TensorType wire_tensor_type(const WireTensor& tensor, const ErrorSource& source,
                                const std::string& where) {
  ir::TensorType type{to_dtype(tensor.data_type, source, where), std::vector<ir::Dim>{}};
  for (int64_t dim : tensor.dims) {
    if (dim < 0) source.fail("negative tensor dimension " + std::to_string(dim), where);
    type.shape->push_back(ir::Dim::fixed(dim));
  }
  return type;
}

bool keep_by_value(const WireTensor& tensor, const OnnxLoadOptions& options, const ErrorSource& source,
                   const std::string& where) {
  if (tensor.external || tensor.segmented) return false;
  const ir::DType dtype = to_dtype(tensor.data_type, source, where);
  const uint64_t count = element_count(tensor.dims, source, where);
  const std::optional<uint64_t> bytes = raw_byte_size(dtype, count);
  if (count <= options.max_elements_by_value) return true;
  return is_integer_or_bool(dtype) && bytes && *bytes <= options.max_integer_initializer_bytes;
}

ir::TensorValue parsed_tensor_value(Span whole, const ErrorSource& source, const std::string& where) {
  onnx::TensorProto message;
  if (!message.ParseFromArray(whole.data, static_cast<int>(whole.size)))
    source.fail("malformed protobuf", where);
  return to_tensor_value(message, source, where);
}

ir::TensorValue wire_tensor_value(const WireTensor& tensor, const ErrorSource& source,
                                  const std::string& where) {
  if (std::optional<ir::TensorValue> value = raw_tensor_value(tensor, source, where))
    return std::move(*value);
  return parsed_tensor_value(tensor.whole, source, where);
}

ir::WeightData owned_weight_bytes(std::string bytes) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  return ir::WeightData{ir::WeightData::Source::kMemory, "", 0, owned->size(), owned->data(), owned};
}

ir::WeightSlot weight_slot_of(const WireTensor& tensor, std::string name, const ModelLocation& location,
                              const ErrorSource& source, const std::string& where) {
  if (tensor.segmented) throw Error(ErrorKind::kUnsupported, source.label + ": segmented tensors: " + where);
  ir::WeightSlot slot{std::move(name), wire_tensor_type(tensor, source, where), {}};
  const ir::DType dtype = slot.type.dtype;
  if (dtype == ir::DType::kUndefined) source.fail("tensor has no data_type", where);
  const uint64_t count = element_count(tensor.dims, source, where);
  const std::optional<uint64_t> expected = raw_byte_size(dtype, count);
  // No byte size for a fixed-size type means count * bits overflowed: say so, not "needs a fixed-size
  // type".
  if (!expected && ir::element_bits(dtype) > 0) source.fail("tensor size overflows", where);
  const bool raw_layout = tensor.payload_field == 9 ||
                          (tensor.payload_packed && tensor.payload_field == 4 &&
                           (dtype == ir::DType::kFloat32 || dtype == ir::DType::kComplex64)) ||
                          (tensor.payload_packed && tensor.payload_field == 10 &&
                           (dtype == ir::DType::kFloat64 || dtype == ir::DType::kComplex128));
  if (tensor.external) {
    const ExternalRange range =
        resolve_external_data(tensor.external_data, location.base_dir, expected, source, where);
    slot.data =
        ir::WeightData{ir::WeightData::Source::kFile, range.path, range.offset, range.length, nullptr};
  } else if (tensor.payload_occurrences == 0) {
    if (count != 0) source.fail("tensor has " + std::to_string(count) + " elements but no data", where);
  } else if (tensor.payload_occurrences == 1 && raw_layout) {
    if (!expected || *expected != tensor.payload.size) {
      source.fail("tensor data holds " + std::to_string(tensor.payload.size) + " bytes but its dims need " +
                      (expected ? std::to_string(*expected) : std::string("a fixed-size type")),
                  where);
    }
    if (location.model_path.empty()) {
      slot.data = ir::WeightData{ir::WeightData::Source::kMemory, "", tensor.payload.offset,
                                 tensor.payload.size, location.base + tensor.payload.offset};
    } else {
      slot.data = ir::WeightData{ir::WeightData::Source::kFile, location.model_path, tensor.payload.offset,
                                 tensor.payload.size, nullptr};
    }
  } else {
    // Typed fields (float16/bfloat16 in int32_data, strings, varint or repeated payloads): no byte range
    // holds the raw layout, so convert it and keep the bytes with the graph for the fingerprint.
    slot.data = owned_weight_bytes(parsed_tensor_value(tensor.whole, source, where).bytes);
  }
  return slot;
}

}  // namespace graphcache::onnx_frontend
