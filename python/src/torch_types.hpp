// Handles to the torch / fx Python types the converter dispatches on, looked up once per process.
//
// The extension never links libtorch: it imports `torch` through the Python C API and compares type
// objects by identity (PyObject_TypeCheck), so it follows whatever torch the interpreter has.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <unordered_map>

#include "graphcache/ir.hpp"

namespace graphcache::py_frontend {

namespace py = pybind11;

struct TorchTypes {
  // Type objects.
  py::object tensor, parameter, fx_node, fx_graph_module, nn_module, tensor_metadata, exported_program;
  py::object op_overload, op_overload_packet, higher_order_operator;
  py::object dtype, device, memory_format, layout, sym_int, sym_float, sym_bool;
  py::object enum_base;
  // torch.dtype object -> IR dtype. Keys are kept alive by the torch module.
  std::unordered_map<PyObject*, ir::DType> dtypes;
  // Interned attribute names (PyObject_GetAttr with a prebuilt str skips a string allocation per call).
  py::str s_op, s_target, s_args, s_kwargs, s_meta, s_users, s_name, s_next, s_root, s_graph;
  py::str s_val, s_tensor_meta, s_example_value, s_shape, s_dtype, s_type, s_index;
  py::str s_schema, s_overloadname, s_is_mutable, s_qualified_op_name, s_namespace;
  py::str s_module, s_qualname, s_dict, s_parameters, s_buffers, s_modules, s_device, s_is_contiguous;
  // FakeTensor and its device / fake_device properties, set only where their code reads what
  // the fake-device reads below assume (else null, and every device read takes getattr).
  py::object fake_tensor, fake_tensor_device, fake_tensor_fake_device;
  py::str s_fake_mode, s_fake_device_field, s_in_kernel_invocation, s_fake_device;

  // The process-wide instance; imports torch on first use. Call with the GIL held.
  static const TorchTypes& get();

  bool is(py::handle obj, const py::object& type) const {
    return PyObject_TypeCheck(obj.ptr(), reinterpret_cast<PyTypeObject*>(type.ptr())) != 0;
  }
  // What `tensor.device` returns for an exact FakeTensor outside a kernel, read from the instance dict, in
  // three steps (GraphState::device_type): the class is the one whose property code was checked (no
  // patched property, no class attribute shadowing the fields); the tensor's device field and its fake
  // mode (borrowed; null if either is missing); the mode's in_kernel_invocation is False. Never raise.
  bool fake_tensor_class_unpatched() const;
  PyObject* fake_device_field(PyObject* tensor, PyObject** mode) const;
  bool fake_mode_outside_kernel(PyObject* mode) const;
  // Throws Error(kUnsupported) for torch dtypes the IR has no code for (bit-packed uint1..7, ...).
  ir::DType to_dtype(py::handle torch_dtype) const;
};

// "module.qualname" of a class or function (e.g. "torch.nn.modules.linear.Linear", "_operator.getitem").
std::string qualified_name(py::handle obj);

}  // namespace graphcache::py_frontend
