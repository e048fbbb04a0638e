#include "graphcache/ir.hpp"

namespace graphcache::ir {

const char* to_string(DType dtype) noexcept {
  switch (dtype) {
    case DType::kUndefined:
      return "undefined";
    case DType::kFloat32:
      return "float32";
    case DType::kUInt8:
      return "uint8";
    case DType::kInt8:
      return "int8";
    case DType::kUInt16:
      return "uint16";
    case DType::kInt16:
      return "int16";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kString:
      return "string";
    case DType::kBool:
      return "bool";
    case DType::kFloat16:
      return "float16";
    case DType::kFloat64:
      return "float64";
    case DType::kUInt32:
      return "uint32";
    case DType::kUInt64:
      return "uint64";
    case DType::kComplex64:
      return "complex64";
    case DType::kComplex128:
      return "complex128";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat8E4M3FN:
      return "float8_e4m3fn";
    case DType::kFloat8E4M3FNUZ:
      return "float8_e4m3fnuz";
    case DType::kFloat8E5M2:
      return "float8_e5m2";
    case DType::kFloat8E5M2FNUZ:
      return "float8_e5m2fnuz";
    case DType::kUInt4:
      return "uint4";
    case DType::kInt4:
      return "int4";
    case DType::kFloat4E2M1:
      return "float4_e2m1";
    case DType::kComplex32:
      return "complex32";
    case DType::kQInt8:
      return "qint8";
    case DType::kQUInt8:
      return "quint8";
    case DType::kQInt32:
      return "qint32";
    case DType::kQUInt4x2:
      return "quint4x2";
    case DType::kQUInt2x4:
      return "quint2x4";
    case DType::kFloat8E8M0FNU:
      return "float8_e8m0fnu";
  }
  return "unknown";
}

int element_bits(DType dtype) noexcept {
  switch (dtype) {
    case DType::kUndefined:
    case DType::kString:
      return 0;
    case DType::kUInt4:
    case DType::kInt4:
    case DType::kFloat4E2M1:
      return 4;
    case DType::kBool:
    case DType::kUInt8:
    case DType::kInt8:
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0FNU:
    case DType::kQInt8:
    case DType::kQUInt8:
    case DType::kQUInt4x2:
    case DType::kQUInt2x4:
      return 8;
    case DType::kUInt16:
    case DType::kInt16:
    case DType::kFloat16:
    case DType::kBFloat16:
      return 16;
    case DType::kFloat32:
    case DType::kInt32:
    case DType::kUInt32:
    case DType::kQInt32:
    case DType::kComplex32:
      return 32;
    case DType::kFloat64:
    case DType::kInt64:
    case DType::kUInt64:
    case DType::kComplex64:
      return 64;
    case DType::kComplex128:
      return 128;
  }
  return 0;
}

TensorType TensorType::of(DType dtype, std::initializer_list<int64_t> dims) {
  std::vector<Dim> shape;
  shape.reserve(dims.size());
  for (int64_t d : dims) shape.push_back(Dim::fixed(d));
  return TensorType{dtype, std::move(shape)};
}

}  // namespace graphcache::ir
