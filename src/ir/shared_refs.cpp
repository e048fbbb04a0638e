// OpRef and TypeRef: the shared, immutable op ids and value types that nodes hold.
#include "graphcache/ir.hpp"

namespace graphcache::ir {

OpRef::OpRef(OpId op, std::string definition) : op_(new Op(std::move(op), std::move(definition))) {}

void OpRef::release() noexcept {
  // acq_rel: the last owner sees every other owner's reads of the op done before it frees it.
  if (op_ != nullptr && op_->references.fetch_sub(1, std::memory_order_acq_rel) == 1) delete op_;
  op_ = nullptr;
}

const OpRef::Op& OpRef::empty() {
  static const Op kEmpty({}, {});
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
