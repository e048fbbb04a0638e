#include "torch_types.hpp"

#include <utility>

#include "graphcache/error.hpp"

namespace graphcache::py_frontend {

namespace {

py::str interned(const char* s) {
  PyObject* p = PyUnicode_InternFromString(s);
  if (!p) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(p);
}

// The names a function's code reads (co_names), or an empty tuple.
py::tuple code_names(py::handle property, const char* accessor) {
  py::object f = py::getattr(property, accessor, py::none());
  py::object code = f.is_none() ? py::none() : py::getattr(f, "__code__", py::none());
  py::object names = code.is_none() ? py::none() : py::getattr(code, "co_names", py::none());
  return PyTuple_Check(names.ptr()) ? py::reinterpret_borrow<py::tuple>(names) : py::tuple();
}

// FakeTensor.device is a Python property (`meta` inside a kernel, else self.fake_device, itself a
// property returning self._fake_device): ~0.25 us per read, once per weight. Where this torch's two
// properties read exactly those names, the walk reads the instance dict instead (TorchTypes::fake_device);
// any other FakeTensor (a changed definition) takes the property.
void load_fake_tensor_device(TorchTypes& t) {
  py::object klass;
  try {
    klass = py::module_::import("torch._subclasses.fake_tensor").attr("FakeTensor");
  } catch (const py::error_already_set&) {
    return;  // no FakeTensor in this torch: every read takes getattr
  }
  py::object device = klass.attr("__dict__").attr("get")("device");
  py::object fake_device = klass.attr("__dict__").attr("get")("fake_device");
  if (!PyObject_TypeCheck(device.ptr(), &PyProperty_Type) ||
      !PyObject_TypeCheck(fake_device.ptr(), &PyProperty_Type))
    return;
  const py::tuple expect_device =
      py::make_tuple("fake_mode", "in_kernel_invocation", "torch", "device", "fake_device");
  const py::tuple expect_fake_device = py::make_tuple("_fake_device");
  if (!code_names(device, "fget").equal(expect_device) ||
      !code_names(fake_device, "fget").equal(expect_fake_device))
    return;
  t.fake_tensor = klass;
  t.fake_tensor_device = device;
  t.fake_tensor_fake_device = fake_device;
  t.s_fake_mode = interned("fake_mode");
  t.s_fake_device_field = interned("_fake_device");
  t.s_in_kernel_invocation = interned("in_kernel_invocation");
  t.s_fake_device = interned("fake_device");
}

TorchTypes* load() {
  // Leaked on purpose: Python objects must not be released after the interpreter shut down.
  auto* t = new TorchTypes();
  py::module_ torch = py::module_::import("torch");
  py::module_ ops = py::module_::import("torch._ops");
  py::module_ fx = py::module_::import("torch.fx");
  t->tensor = torch.attr("Tensor");
  t->parameter = torch.attr("nn").attr("Parameter");
  t->fx_node = fx.attr("Node");
  t->fx_graph_module = fx.attr("GraphModule");
  t->nn_module = torch.attr("nn").attr("Module");
  t->exported_program = py::module_::import("torch.export").attr("ExportedProgram");
  t->tensor_metadata = py::module_::import("torch.fx.passes.shape_prop").attr("TensorMetadata");
  t->op_overload = ops.attr("OpOverload");
  t->op_overload_packet = ops.attr("OpOverloadPacket");
  t->higher_order_operator = ops.attr("HigherOrderOperator");
  t->dtype = torch.attr("dtype");
  t->device = torch.attr("device");
  t->memory_format = torch.attr("memory_format");
  t->layout = torch.attr("layout");
  t->sym_int = torch.attr("SymInt");
  t->sym_float = torch.attr("SymFloat");
  t->sym_bool = torch.attr("SymBool");
  t->enum_base = py::module_::import("enum").attr("Enum");

  const std::pair<const char*, ir::DType> names[] = {
      {"float32", ir::DType::kFloat32},
      {"uint8", ir::DType::kUInt8},
      {"int8", ir::DType::kInt8},
      {"uint16", ir::DType::kUInt16},
      {"int16", ir::DType::kInt16},
      {"int32", ir::DType::kInt32},
      {"int64", ir::DType::kInt64},
      {"bool", ir::DType::kBool},
      {"float16", ir::DType::kFloat16},
      {"float64", ir::DType::kFloat64},
      {"uint32", ir::DType::kUInt32},
      {"uint64", ir::DType::kUInt64},
      {"complex64", ir::DType::kComplex64},
      {"complex128", ir::DType::kComplex128},
      {"bfloat16", ir::DType::kBFloat16},
      {"float8_e4m3fn", ir::DType::kFloat8E4M3FN},
      {"float8_e4m3fnuz", ir::DType::kFloat8E4M3FNUZ},
      {"float8_e5m2", ir::DType::kFloat8E5M2},
      {"float8_e5m2fnuz", ir::DType::kFloat8E5M2FNUZ},
      {"uint4", ir::DType::kUInt4},
      {"int4", ir::DType::kInt4},
      {"complex32", ir::DType::kComplex32},
      {"qint8", ir::DType::kQInt8},
      {"quint8", ir::DType::kQUInt8},
      {"qint32", ir::DType::kQInt32},
      {"quint4x2", ir::DType::kQUInt4x2},
      {"quint2x4", ir::DType::kQUInt2x4},
      {"float8_e8m0fnu", ir::DType::kFloat8E8M0FNU},
  };
  for (const auto& [name, code] : names) {
    if (py::hasattr(torch, name)) t->dtypes.emplace(torch.attr(name).ptr(), code);
  }

  t->s_op = "op";
  t->s_target = "target";
  t->s_args = "_args";  // the C slots of torch._C._NodeBase; `args` is a Python property
  t->s_kwargs = "_kwargs";
  t->s_meta = "meta";
  t->s_users = "users";
  t->s_name = "name";
  t->s_next = "_next";
  t->s_root = "_root";
  t->s_graph = "graph";
  t->s_val = "val";
  t->s_tensor_meta = "tensor_meta";
  t->s_example_value = "example_value";
  t->s_shape = "shape";
  t->s_dtype = "dtype";
  t->s_type = "type";
  t->s_index = "index";
  t->s_schema = "_schema";
  t->s_overloadname = "_overloadname";
  t->s_is_mutable = "is_mutable";
  t->s_qualified_op_name = "_qualified_op_name";
  t->s_namespace = "namespace";
  t->s_module = "__module__";
  t->s_qualname = "__qualname__";
  t->s_dict = "__dict__";
  t->s_parameters = "_parameters";
  t->s_buffers = "_buffers";
  t->s_modules = "_modules";
  t->s_device = "device";
  t->s_is_contiguous = "is_contiguous";
  for (py::str* s : {&t->s_op,
                     &t->s_target,
                     &t->s_args,
                     &t->s_kwargs,
                     &t->s_meta,
                     &t->s_users,
                     &t->s_name,
                     &t->s_next,
                     &t->s_root,
                     &t->s_graph,
                     &t->s_val,
                     &t->s_tensor_meta,
                     &t->s_example_value,
                     &t->s_shape,
                     &t->s_dtype,
                     &t->s_type,
                     &t->s_index,
                     &t->s_schema,
                     &t->s_overloadname,
                     &t->s_is_mutable,
                     &t->s_qualified_op_name,
                     &t->s_namespace,
                     &t->s_module,
                     &t->s_qualname,
                     &t->s_dict,
                     &t->s_parameters,
                     &t->s_buffers,
                     &t->s_modules,
                     &t->s_device,
                     &t->s_is_contiguous}) {
    PyObject* p = s->release().ptr();
    PyUnicode_InternInPlace(&p);
    *s = py::reinterpret_steal<py::str>(p);
  }
  load_fake_tensor_device(*t);
  return t;
}

}  // namespace

const TorchTypes& TorchTypes::get() {
  static TorchTypes* instance = load();
  return *instance;
}

bool TorchTypes::fake_tensor_class_unpatched() const {
  auto* type = reinterpret_cast<PyTypeObject*>(fake_tensor.ptr());
  // The class still has the properties whose code was checked, and no class attribute shadows the
  // instance fields they read.
  return type && _PyType_Lookup(type, s_device.ptr()) == fake_tensor_device.ptr() &&
         _PyType_Lookup(type, s_fake_device.ptr()) == fake_tensor_fake_device.ptr() &&
         !_PyType_Lookup(type, s_fake_mode.ptr()) && !_PyType_Lookup(type, s_fake_device_field.ptr());
}

PyObject* TorchTypes::fake_device_field(PyObject* tensor, PyObject** mode) const {
  if (!fake_tensor || Py_TYPE(tensor) != reinterpret_cast<PyTypeObject*>(fake_tensor.ptr())) return nullptr;
  PyObject** dict_slot = _PyObject_GetDictPtr(tensor);
  PyObject* dict = dict_slot ? *dict_slot : nullptr;
  if (!dict || !PyDict_CheckExact(dict)) return nullptr;
  *mode = PyDict_GetItemWithError(dict, s_fake_mode.ptr());
  PyObject* device = *mode ? PyDict_GetItemWithError(dict, s_fake_device_field.ptr()) : nullptr;
  if (!device) PyErr_Clear();
  return device;
}

bool TorchTypes::fake_mode_outside_kernel(PyObject* mode) const {
  PyObject* in_kernel = PyObject_GetAttr(mode, s_in_kernel_invocation.ptr());
  if (!in_kernel) {
    PyErr_Clear();
    return false;
  }
  Py_DECREF(in_kernel);  // True / False are immortal-ish singletons: only identity is compared
  return in_kernel == Py_False;
}

ir::DType TorchTypes::to_dtype(py::handle torch_dtype) const {
  auto it = dtypes.find(torch_dtype.ptr());
  if (it != dtypes.end()) return it->second;
  throw Error(ErrorKind::kUnsupported,
              "dtype " + py::str(torch_dtype).cast<std::string>() + " has no graphcache IR type");
}

std::string qualified_name(py::handle obj) {
  std::string module, qualname;
  if (py::object m = py::getattr(obj, "__module__", py::none()); !m.is_none()) module = py::str(m);
  if (py::object q = py::getattr(obj, "__qualname__", py::none()); !q.is_none()) {
    qualname = py::str(q);
  } else if (py::object n = py::getattr(obj, "__name__", py::none()); !n.is_none()) {
    qualname = py::str(n);
  }
  if (module.empty()) {
    // Builtin methods of C types (torch._C._VariableFunctions.relu) may lack __module__: use their owner.
    py::object self = py::getattr(obj, "__self__", py::none());
    if (!self.is_none()) {
      py::handle owner =
          PyType_Check(self.ptr()) ? self : py::handle(reinterpret_cast<PyObject*>(Py_TYPE(self.ptr())));
      module = py::str(py::getattr(owner, "__module__", py::str("")));
      if (qualname.find('.') == std::string::npos)
        qualname =
            py::str(py::getattr(owner, "__qualname__", py::str(""))).cast<std::string>() + "." + qualname;
    }
  }
  return module.empty() ? qualname : module + "." + qualname;
}

}  // namespace graphcache::py_frontend
