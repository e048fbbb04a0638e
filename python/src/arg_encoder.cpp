// Python argument values -> AttrValue, and tensor metadata -> TensorType.
#include <algorithm>
#include <cstdlib>

#include "graph_converter.hpp"
#include "graphcache/error.hpp"
#include "graphcache/limits.hpp"

namespace graphcache::py_frontend::detail {

namespace {

bool is_integer_text(const std::string& s) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  return i < s.size() && std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(),
                                     [](char c) { return c >= '0' && c <= '9'; });
}

ir::AttrValue int_value(PyObject* o) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (overflow == 0 && !(v == -1 && PyErr_Occurred())) return int64_t{v};
  PyErr_Clear();
  // Beyond int64: keep the exact decimal, typed apart from strings.
  return ir::EnumValue{"int", py::str(o).cast<std::string>()};
}

ir::Dim dim_of(py::handle d) {
  if (PyLong_Check(d.ptr())) return ir::Dim::fixed(PyLong_AsLongLong(d.ptr()));
  std::string expr = py::str(d);  // SymInt: its sympy expression ("s0", "2*s1 + 1")
  if (is_integer_text(expr)) return ir::Dim::fixed(std::strtoll(expr.c_str(), nullptr, 10));
  return ir::Dim::symbolic(std::move(expr));
}

ir::AttrValue sequence_of(GraphState& s, ir::Node& node, PyObject* o, ir::Sequence::Kind kind, int depth) {
  ir::Sequence seq{kind, {}};
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
  PyObject** items = PySequence_Fast_ITEMS(o);
  seq.items.reserve(static_cast<size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) seq.items.push_back(encode_arg(s, node, items[i], depth + 1));
  return seq;
}

ir::AttrValue dict_of(GraphState& s, ir::Node& node, PyObject* o, int depth) {
  // Insertion order is kept: dict-valued arguments are iterated in that order by the code that reads
  // them (an ordered container of outputs, a pytree), so two orders may compute different things.
  ir::Sequence seq{ir::Sequence::Kind::kDict, {}};
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (PyDict_Next(o, &pos, &k, &v)) {
    seq.items.push_back(encode_arg(s, node, k, depth + 1));
    seq.items.push_back(encode_arg(s, node, v, depth + 1));
  }
  return seq;
}

int64_t numel_of(const ir::TensorType& type) {
  int64_t n = 1;
  for (const auto& d : *type.shape) n *= d.is_static() ? d.value : (int64_t{1} << 40);
  return n;
}

bool is_floating(ir::DType d) {
  using D = ir::DType;
  switch (d) {
    case D::kFloat32:
    case D::kFloat16:
    case D::kFloat64:
    case D::kBFloat16:
    case D::kComplex64:
    case D::kComplex128:
    case D::kComplex32:
    case D::kFloat8E4M3FN:
    case D::kFloat8E4M3FNUZ:
    case D::kFloat8E5M2:
    case D::kFloat8E5M2FNUZ:
    case D::kFloat8E8M0FNU:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string utf8(PyObject* str) {
  return std::string(utf8_view(str));
}

std::string_view utf8_view(PyObject* str) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(str, &size);
  if (!data) {
    PyErr_Clear();
    throw Error(ErrorKind::kInvalidArgument, "a string in the graph is not valid UTF-8");
  }
  return {data, static_cast<size_t>(size)};
}

ir::ValueRef GraphState::weight_for(py::handle tensor, std::string name) {
  if (const ir::ValueRef* seen = weight_by_object.find(tensor.ptr())) return *seen;
  auto type = tensor_type_of(t, tensor);
  if (!type) throw Error(ErrorKind::kInternal, "weight '" + name + "' is not a tensor");
  const auto index = static_cast<uint32_t>(graph.weights.size());
  graph.weights.push_back(ir::WeightSlot{std::move(name), std::move(*type), {}});
  weight_by_object.emplace(tensor.ptr(), ir::ValueRef::weight(index));
  return ir::ValueRef::weight(index);
}

bool key_by_value(const TorchTypes& t, py::handle tensor, bool parameter, bool lifted_constant) {
  if (parameter || !t.is(tensor, t.tensor)) return false;
  // A meta tensor (a model built on the meta device) has no value to key: a slot, by dtype and shape.
  static PyObject* const is_meta = PyUnicode_InternFromString("is_meta");
  py::object meta = py::reinterpret_steal<py::object>(PyObject_GetAttr(tensor.ptr(), is_meta));
  if (!meta) throw py::error_already_set();
  if (meta.ptr() == Py_True) return false;
  auto type = tensor_type_of(t, tensor);
  if (!type || !type->shape) return false;
  const int64_t n = numel_of(*type);
  constexpr int64_t kMaxByValue = int64_t{1} << 16, kInlined = 8;
  return n <= kInlined || (n <= kMaxByValue && (lifted_constant || !is_floating(type->dtype)));
}

ir::TensorValue tensor_value(const TorchTypes& t, py::handle tensor) {
  static const py::object* bytes_of =
      new py::object(py::module_::import("graphcache._code_identity").attr("tensor_bytes"));
  ir::TensorValue value;
  auto type = tensor_type_of(t, tensor);
  value.dtype = type->dtype;
  for (const auto& d : *type->shape) value.dims.push_back(d.value);
  value.bytes = (*bytes_of)(tensor).cast<std::string>();
  return value;
}

ir::Device GraphState::device(py::handle torch_device) {
  const bool cacheable = t.is(torch_device, t.device);
  if (cacheable) {
    for (const auto& [seen, value] : devices) {
      if (seen.ptr() == torch_device.ptr()) return value;
    }
    for (const auto& [seen, value] : devices) {
      const int equal = PyObject_RichCompareBool(seen.ptr(), torch_device.ptr(), Py_EQ);
      if (equal < 0) throw py::error_already_set();
      if (equal) return value;
    }
  }
  py::object index = torch_device.attr(t.s_index);
  ir::Device value{py::str(torch_device.attr(t.s_type)).cast<std::string>(),
                   index.is_none() ? -1 : index.cast<int64_t>()};
  if (cacheable) devices.emplace_back(py::reinterpret_borrow<py::object>(torch_device), value);
  return value;
}

std::string GraphState::device_type(py::handle tensor) {
  if (fake_class_unpatched < 0) fake_class_unpatched = t.fake_tensor_class_unpatched() ? 1 : 0;
  PyObject* mode = nullptr;
  PyObject* fake = fake_class_unpatched ? t.fake_device_field(tensor.ptr(), &mode) : nullptr;
  if (fake && mode != fake_mode.ptr()) {
    fake_mode = py::reinterpret_borrow<py::object>(mode);
    fake_mode_outside_kernel = t.fake_mode_outside_kernel(mode);
  }
  if (fake && fake_mode_outside_kernel) return device(fake).type;
  return device(tensor.attr(t.s_device)).type;
}

std::string layout_of(GraphState& s, py::handle tensor, bool with_strides) {
  std::string out = s.device_type(tensor);
  if (!with_strides) return out;
  // Fast path (one C call): most tensors are contiguous. A symbolic answer takes the slow path.
  PyObject* answer = PyObject_CallMethodNoArgs(tensor.ptr(), s.t.s_is_contiguous.ptr());
  if (!answer) PyErr_Clear();
  const bool is_contiguous = answer == Py_True;
  Py_XDECREF(answer);
  if (is_contiguous) return out;
  py::object strides = tensor.attr("stride")();
  py::object shape = tensor.attr("shape");
  // Contiguous (row-major) tensors say nothing more; others list their strides, since compiled code
  // (Inductor, TensorRT) indexes with the strides it was built for.
  std::vector<int64_t> dims, st;
  bool fixed = true;
  for (py::handle d : shape) {
    if (!PyLong_Check(d.ptr()))
      fixed = false;
    else
      dims.push_back(d.cast<int64_t>());
  }
  for (py::handle d : strides) {
    if (!PyLong_Check(d.ptr()))
      fixed = false;
    else
      st.push_back(d.cast<int64_t>());
  }
  if (fixed) {
    int64_t expect = 1;
    bool contiguous = true;
    for (size_t i = dims.size(); i-- > 0;) {
      if (dims[i] != 1 && st[i] != expect) contiguous = false;
      expect *= dims[i];
    }
    if (contiguous) return out;
  }
  return out + ":" + py::str(strides).cast<std::string>();
}

std::optional<ir::TensorType> tensor_type_of(const TorchTypes& t, py::handle value) {
  if (!t.is(value, t.tensor) && !t.is(value, t.tensor_metadata)) return std::nullopt;
  ir::TensorType type;
  type.dtype = t.to_dtype(value.attr(t.s_dtype));
  py::object shape = value.attr(t.s_shape);
  std::vector<ir::Dim> dims;
  if (PyTuple_Check(shape.ptr())) {  // torch.Size: index the tuple directly (no iterator object)
    const Py_ssize_t n = PyTuple_GET_SIZE(shape.ptr());
    dims.reserve(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) dims.push_back(dim_of(PyTuple_GET_ITEM(shape.ptr(), i)));
  } else {
    for (py::handle d : shape) dims.push_back(dim_of(d));
  }
  type.shape = std::move(dims);
  return type;
}

void outputs_from_meta(const TorchTypes& t, py::handle meta, ir::NodeVector<ir::NodeOutput>& outs) {
  PyObject* val = nullptr;
  if (PyDict_Check(meta.ptr())) {
    for (const py::str* k : {&t.s_val, &t.s_tensor_meta, &t.s_example_value}) {
      val = PyDict_GetItem(meta.ptr(), k->ptr());  // borrowed
      if (val) break;
    }
  }
  // Built with emplace_back: a braced list would copy each NodeOutput (and its shape vector) once more.
  py::handle v(val);
  if (!val) {
    outs.emplace_back();
  } else if (auto type = tensor_type_of(t, v)) {
    outs.push_back(ir::NodeOutput{{}, std::move(*type)});
  } else if (PyTuple_Check(val) || PyList_Check(val)) {
    for (py::handle item : v) {
      auto item_type = tensor_type_of(t, item);
      outs.push_back(ir::NodeOutput{{}, item_type ? std::move(*item_type) : ir::TensorType{}});
    }
    if (outs.empty()) outs.emplace_back();
  } else {
    outs.emplace_back();
  }
}

ir::AttrValue encode_arg(GraphState& s, ir::Node& node, py::handle value, int depth) {
  if (depth > kMaxNestingDepth)
    throw Error(ErrorKind::kUnsupported, "node '" + node.name + "': arguments nested deeper than " +
                                             std::to_string(kMaxNestingDepth) + " levels");
  PyObject* o = value.ptr();
  const TorchTypes& t = s.t;
  if (t.is(value, t.fx_node)) {
    const ir::ValueRef* ref = s.values.find(o);
    if (!ref)
      throw Error(ErrorKind::kInvalidModel, "node '" + node.name + "' uses node '" +
                                                utf8(py::str(value).ptr()) +
                                                "' that is not defined before it in the graph");
    node.inputs.push_back(*ref);
    return ir::OperandIndex{static_cast<uint32_t>(node.inputs.size() - 1)};
  }
  if (o == Py_None) return {};
  if (PyBool_Check(o)) return o == Py_True;
  if (PyLong_CheckExact(o)) return int_value(o);
  if (PyFloat_CheckExact(o)) return PyFloat_AS_DOUBLE(o);
  if (PyUnicode_CheckExact(o)) return utf8(o);
  if (PyTuple_Check(o)) return sequence_of(s, node, o, ir::Sequence::Kind::kTuple, depth);
  if (PyList_Check(o)) return sequence_of(s, node, o, ir::Sequence::Kind::kList, depth);
  if (PyDict_Check(o)) return dict_of(s, node, o, depth);
  if (PySlice_Check(o)) {
    auto* sl = reinterpret_cast<PySliceObject*>(o);
    return ir::Sequence{ir::Sequence::Kind::kSlice,
                        {encode_arg(s, node, sl->start, depth + 1), encode_arg(s, node, sl->stop, depth + 1),
                         encode_arg(s, node, sl->step, depth + 1)}};
  }
  if (t.is(value, t.dtype)) return t.to_dtype(value);
  if (t.is(value, t.device)) return s.device(value);
  if (t.is(value, t.memory_format)) return ir::EnumValue{"torch.memory_format", py::str(value)};
  if (t.is(value, t.layout)) return ir::EnumValue{"torch.layout", py::str(value)};
  if (t.is(value, t.sym_int)) return ir::SymbolicInt{py::str(value)};
  if (t.is(value, t.sym_float) || t.is(value, t.sym_bool)) {
    // Typed apart from SymInt; the expression still goes through the key's symbol canonicalization.
    const char* kind = t.is(value, t.sym_float) ? "torch.SymFloat" : "torch.SymBool";
    return ir::Sequence{ir::Sequence::Kind::kTuple,
                        {ir::EnumValue{"symbolic", kind}, ir::SymbolicInt{py::str(value)}}};
  }
  if (t.is(value, t.enum_base))
    return ir::EnumValue{qualified_name(py::type::handle_of(value)), value.attr("name").cast<std::string>()};
  if (t.is(value, t.tensor)) {
    // A tensor constant captured in the arguments: small / integer ones by value (like lifted constants),
    // others a weight slot like get_attr tensors.
    if (key_by_value(t, value, t.is(value, t.parameter), /*lifted_constant=*/true))
      return tensor_value(t, value);
    ir::ValueRef ref = s.weight_for(value, node.name + ".constant" + std::to_string(s.graph.weights.size()));
    node.inputs.push_back(ref);
    return ir::OperandIndex{static_cast<uint32_t>(node.inputs.size() - 1)};
  }
  if (t.is(value, t.op_overload) || t.is(value, t.op_overload_packet) ||
      t.is(value, t.higher_order_operator) || PyFunction_Check(o) || PyCFunction_Check(o)) {
    const ir::OpId& op = *resolve_function_target(s, value).op;
    return ir::Sequence{ir::Sequence::Kind::kTuple,
                        {ir::EnumValue{"callable", op.domain}, op.name, op.overload}};
  }
  if (o == Py_Ellipsis) return ir::EnumValue{"builtins", "Ellipsis"};
  if (PyComplex_Check(o))
    return ir::Sequence{
        ir::Sequence::Kind::kTuple,
        {ir::EnumValue{"builtins", "complex"}, PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o)}};
  if (PyLong_Check(o)) return int_value(o);
  if (PyFloat_Check(o)) return PyFloat_AsDouble(o);
  if (PyUnicode_Check(o)) return utf8(o);
  throw Error(ErrorKind::kUnsupported, "node '" + node.name + "': an argument of type " +
                                           qualified_name(py::type::handle_of(value)) +
                                           " cannot be part of a key");
}

}  // namespace graphcache::py_frontend::detail
