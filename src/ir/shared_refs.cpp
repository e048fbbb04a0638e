// OpRef and TypeRef: the shared, immutable op ids and value types that nodes hold.
#include "graphcache/ir.hpp"

namespace graphcache::ir {

const OpId& OpRef::empty() {
  static const OpId kEmpty;
  return kEmpty;
}

TypeRef::TypeRef(TensorType type) {
  // "Not known" is the empty reference: most ONNX values carry no type, and so allocate nothing.
  if (type.dtype != DType::kUndefined || type.shape || !type.wrappers.empty())
    type_ = std::make_shared<const TensorType>(std::move(type));
}

const TensorType& TypeRef::unknown() {
  static const TensorType kUnknown;
  return kUnknown;
}

}  // namespace graphcache::ir
