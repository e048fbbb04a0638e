#include "tensor_convert.hpp"

#include <bit>
#include <cstring>

#include "graphcache/error.hpp"

namespace graphcache::onnx_frontend {

static_assert(std::endian::native == std::endian::little, "raw_data layout is little-endian");

ir::DType to_dtype(int64_t onnx_type, const ErrorSource& source, const std::string& where) {
  if (onnx_type < 0 || onnx_type > static_cast<int64_t>(ir::DType::kFloat4E2M1)) {
    source.fail("unknown tensor data type " + std::to_string(onnx_type), where);
  }
  return static_cast<ir::DType>(onnx_type);
}

bool is_integer_or_bool(ir::DType dtype) {
  switch (dtype) {
    case ir::DType::kUInt8:
    case ir::DType::kInt8:
    case ir::DType::kUInt16:
    case ir::DType::kInt16:
    case ir::DType::kInt32:
    case ir::DType::kInt64:
    case ir::DType::kBool:
    case ir::DType::kUInt32:
    case ir::DType::kUInt64:
    case ir::DType::kUInt4:
    case ir::DType::kInt4:
      return true;
    default:
      return false;
  }
}

uint64_t element_count(const std::vector<int64_t>& dims, const ErrorSource& source,
                       const std::string& where) {
  uint64_t count = 1;
  for (int64_t dim : dims) {
    if (dim < 0) source.fail("negative tensor dimension " + std::to_string(dim), where);
    if (dim != 0 && count > UINT64_MAX / static_cast<uint64_t>(dim))
      source.fail("tensor size overflows", where);
    count *= static_cast<uint64_t>(dim);
  }
  return count;
}

std::optional<uint64_t> raw_byte_size(ir::DType dtype, uint64_t count) {
  const int bits = ir::element_bits(dtype);
  if (bits <= 0) return std::nullopt;
  if (count > UINT64_MAX / static_cast<uint64_t>(bits)) return std::nullopt;
  return (count * static_cast<uint64_t>(bits) + 7) / 8;
}

namespace {

template <typename Out, typename Values>
void append_as(std::string& bytes, const Values& values) {
  for (auto value : values) {
    const Out narrowed = static_cast<Out>(value);
    bytes.append(reinterpret_cast<const char*>(&narrowed), sizeof(Out));
  }
}

// Typed fields -> raw_data layout. Returns the number of values the field held.
uint64_t typed_to_raw(const onnx::TensorProto& t, ir::DType dtype, std::string& bytes,
                      uint64_t& values_per_element, const ErrorSource& source, const std::string& where) {
  values_per_element = 1;
  switch (dtype) {
    case ir::DType::kFloat32:
      append_as<float>(bytes, t.float_data());
      return t.float_data_size();
    case ir::DType::kComplex64:
      values_per_element = 2;
      append_as<float>(bytes, t.float_data());
      return t.float_data_size();
    case ir::DType::kFloat64:
      append_as<double>(bytes, t.double_data());
      return t.double_data_size();
    case ir::DType::kComplex128:
      values_per_element = 2;
      append_as<double>(bytes, t.double_data());
      return t.double_data_size();
    case ir::DType::kInt64:
      append_as<int64_t>(bytes, t.int64_data());
      return t.int64_data_size();
    case ir::DType::kUInt32:
      append_as<uint32_t>(bytes, t.uint64_data());
      return t.uint64_data_size();
    case ir::DType::kUInt64:
      append_as<uint64_t>(bytes, t.uint64_data());
      return t.uint64_data_size();
    case ir::DType::kInt32:
      append_as<int32_t>(bytes, t.int32_data());
      return t.int32_data_size();
    case ir::DType::kInt16:
    case ir::DType::kUInt16:
    case ir::DType::kFloat16:
    case ir::DType::kBFloat16:
      append_as<uint16_t>(bytes, t.int32_data());
      return t.int32_data_size();
    case ir::DType::kInt8:
    case ir::DType::kUInt8:
    case ir::DType::kBool:
    case ir::DType::kFloat8E4M3FN:
    case ir::DType::kFloat8E4M3FNUZ:
    case ir::DType::kFloat8E5M2:
    case ir::DType::kFloat8E5M2FNUZ:
      append_as<uint8_t>(bytes, t.int32_data());
      return t.int32_data_size();
    case ir::DType::kString:
      for (const std::string& s : t.string_data()) {
        append_as<uint64_t>(bytes, std::initializer_list<uint64_t>{s.size()});
        bytes += s;
      }
      return t.string_data_size();
    default:
      // 4-bit types pack two elements per int32_data entry; raw_data is the only unambiguous form.
      throw Error(ErrorKind::kUnsupported,
                  source.label + ": tensor of type " + ir::to_string(dtype) + " must use raw_data: " + where);
  }
}

}  // namespace

ir::TensorValue to_tensor_value(const onnx::TensorProto& t, const ErrorSource& source,
                                const std::string& where) {
  const std::string at = where + (t.name().empty() ? "" : " ('" + t.name() + "')");
  ir::TensorValue value;
  value.dtype = to_dtype(t.data_type(), source, at);
  if (value.dtype == ir::DType::kUndefined) source.fail("tensor has no data_type", at);
  if (t.has_segment()) throw Error(ErrorKind::kUnsupported, source.label + ": segmented tensors: " + at);
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    throw Error(ErrorKind::kUnsupported, source.label + ": external data in a tensor attribute: " + at);
  }
  value.dims.assign(t.dims().begin(), t.dims().end());
  const uint64_t count = element_count(value.dims, source, at);
  if (t.has_raw_data()) {
    const std::optional<uint64_t> expected = raw_byte_size(value.dtype, count);
    if (!expected)
      source.fail("raw_data given for a tensor of type " + std::string(ir::to_string(value.dtype)), at);
    if (*expected != t.raw_data().size()) {
      source.fail("raw_data holds " + std::to_string(t.raw_data().size()) + " bytes but the dims need " +
                      std::to_string(*expected),
                  at);
    }
    value.bytes = t.raw_data();
    return value;
  }
  uint64_t per_element = 1;
  const uint64_t held = typed_to_raw(t, value.dtype, value.bytes, per_element, source, at);
  if (held != count * per_element) {
    source.fail("tensor holds " + std::to_string(held) + " values but its dims need " +
                    std::to_string(count * per_element),
                at);
  }
  return value;
}

namespace {

std::vector<ir::Dim> to_dims(const onnx::TensorShapeProto& shape, const ErrorSource& source,
                             const std::string& where) {
  std::vector<ir::Dim> dims;
  dims.reserve(shape.dim_size());
  for (const auto& dim : shape.dim()) {
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0) source.fail("negative dimension " + std::to_string(dim.dim_value()), where);
      dims.push_back(ir::Dim::fixed(dim.dim_value()));
    } else if (dim.has_dim_param() && !dim.dim_param().empty()) {
      dims.push_back(ir::Dim::param(dim.dim_param()));  // one opaque name
    } else {
      dims.push_back(ir::Dim::unknown());
    }
  }
  return dims;
}

}  // namespace

ir::TensorType to_tensor_type(const onnx::TypeProto& type, const ErrorSource& source,
                              const std::string& where) {
  // Walks the nesting iteratively (a crafted model can nest sequence types thousands deep).
  ir::TensorType result;
  const onnx::TypeProto* t = &type;
  for (;;) {
    switch (t->value_case()) {
      case onnx::TypeProto::kTensorType:
        result.dtype = to_dtype(t->tensor_type().elem_type(), source, where);
        if (t->tensor_type().has_shape()) result.shape = to_dims(t->tensor_type().shape(), source, where);
        return result;
      case onnx::TypeProto::kSparseTensorType:
        result.wrappers.push_back({ir::TypeWrapper::Kind::kSparse, ir::DType::kUndefined});
        result.dtype = to_dtype(t->sparse_tensor_type().elem_type(), source, where);
        if (t->sparse_tensor_type().has_shape())
          result.shape = to_dims(t->sparse_tensor_type().shape(), source, where);
        return result;
      case onnx::TypeProto::kSequenceType:
        result.wrappers.push_back({ir::TypeWrapper::Kind::kSequence, ir::DType::kUndefined});
        t = &t->sequence_type().elem_type();
        break;
      case onnx::TypeProto::kOptionalType:
        result.wrappers.push_back({ir::TypeWrapper::Kind::kOptional, ir::DType::kUndefined});
        t = &t->optional_type().elem_type();
        break;
      case onnx::TypeProto::kMapType:
        result.wrappers.push_back(
            {ir::TypeWrapper::Kind::kMap, to_dtype(t->map_type().key_type(), source, where)});
        t = &t->map_type().value_type();
        break;
      default:  // not set, or a kind this libonnx does not know (opaque): an unknown type
        if (t->value_case() != onnx::TypeProto::VALUE_NOT_SET) {
          throw Error(ErrorKind::kUnsupported, source.label + ": value type (TypeProto field " +
                                                   std::to_string(t->value_case()) + "): " + where);
        }
        return result;
    }
  }
}

}  // namespace graphcache::onnx_frontend
