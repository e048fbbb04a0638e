#include "attribute_convert.hpp"

#include "graphcache/error.hpp"
#include "tensor_convert.hpp"

namespace graphcache::onnx_frontend {

namespace {

using Kind = onnx::AttributeProto;

ir::AttrValue tagged(const char* tag, std::vector<ir::AttrValue> items) {
  items.insert(items.begin(), ir::AttrValue(tag));
  return ir::Sequence{ir::Sequence::Kind::kTuple, std::move(items)};
}

ir::AttrValue sparse_value(const onnx::SparseTensorProto& sparse, const ErrorSource& source,
                           const std::string& where) {
  std::vector<int64_t> dims(sparse.dims().begin(), sparse.dims().end());
  return tagged("onnx.SparseTensor",
                {to_tensor_value(sparse.values(), source, where + ".values"),
                 to_tensor_value(sparse.indices(), source, where + ".indices"), ir::AttrValue::ints(dims)});
}

ir::AttrValue type_value(const onnx::TypeProto& type) {
  // Protobuf serialization of a message without maps is deterministic.
  return tagged("onnx.TypeProto", {ir::AttrValue(type.SerializeAsString())});
}

template <typename Items, typename Convert>
ir::AttrValue list_of(const Items& items, Convert convert) {
  std::vector<ir::AttrValue> values;
  values.reserve(items.size());
  for (const auto& item : items) values.push_back(convert(item));
  return ir::AttrValue::list(std::move(values));
}

}  // namespace

Kind::AttributeType attribute_kind(const onnx::AttributeProto& a, bool has_tensor, bool has_graph,
                                   bool has_graphs) {
  if (a.type() != Kind::UNDEFINED) return a.type();
  if (a.has_f()) return Kind::FLOAT;
  if (a.has_i()) return Kind::INT;
  if (a.has_s()) return Kind::STRING;
  if (has_tensor) return Kind::TENSOR;
  if (has_graph) return Kind::GRAPH;
  if (a.has_sparse_tensor()) return Kind::SPARSE_TENSOR;
  if (a.has_tp()) return Kind::TYPE_PROTO;
  if (a.floats_size()) return Kind::FLOATS;
  if (a.ints_size()) return Kind::INTS;
  if (a.strings_size()) return Kind::STRINGS;
  if (a.tensors_size()) return Kind::TENSORS;
  if (has_graphs) return Kind::GRAPHS;
  if (a.sparse_tensors_size()) return Kind::SPARSE_TENSORS;
  if (a.type_protos_size()) return Kind::TYPE_PROTOS;
  return Kind::UNDEFINED;
}

ir::AttrValue convert_attribute(const onnx::AttributeProto& a, Kind::AttributeType kind,
                                const ErrorSource& source, const std::string& where) {
  switch (kind) {
    case Kind::FLOAT:
      return static_cast<double>(a.f());
    case Kind::INT:
      return static_cast<int64_t>(a.i());
    case Kind::STRING:
      return a.s();
    case Kind::TENSOR:
      return to_tensor_value(a.t(), source, where);
    case Kind::SPARSE_TENSOR:
      return sparse_value(a.sparse_tensor(), source, where);
    case Kind::TYPE_PROTO:
      return type_value(a.tp());
    case Kind::FLOATS:
      return list_of(a.floats(), [](float f) { return ir::AttrValue(static_cast<double>(f)); });
    case Kind::INTS:
      return list_of(a.ints(), [](int64_t i) { return ir::AttrValue(i); });
    case Kind::STRINGS:
      return list_of(a.strings(), [](const std::string& s) { return ir::AttrValue(s); });
    case Kind::TENSORS:
      return list_of(a.tensors(), [&](const onnx::TensorProto& t) {
        return ir::AttrValue(to_tensor_value(t, source, where));
      });
    case Kind::SPARSE_TENSORS:
      return list_of(a.sparse_tensors(),
                     [&](const onnx::SparseTensorProto& s) { return sparse_value(s, source, where); });
    case Kind::TYPE_PROTOS:
      return list_of(a.type_protos(), [](const onnx::TypeProto& t) { return type_value(t); });
    case Kind::GRAPH:
    case Kind::GRAPHS:
      source.fail("graph attribute holds no graph", where);
    case Kind::UNDEFINED:
      source.fail("attribute has no value", where);
    default:
      source.fail("attribute of unknown type " + std::to_string(static_cast<int>(kind)), where);
  }
}

}  // namespace graphcache::onnx_frontend
