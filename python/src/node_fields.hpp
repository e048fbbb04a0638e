// Fast reads of torch.fx.Node fields. Node keeps op / target / _args / _kwargs / meta / name / _next in C
// slots of torch._C._NodeBase (member descriptors); the generic getattr path (type MRO lookup, descriptor
// dispatch) costs more than the read itself, and the walk reads six fields per node. The descriptors are
// resolved once per walk on the exact Node type and read at their offsets; anything else (a Node
// subclass, a field that is not a plain object slot, an unset slot) takes the ordinary getattr, so the
// values are always those Python would return.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>
#include <structmember.h>

#include <array>

namespace graphcache::py_frontend {

namespace py = pybind11;

class NodeFields {
 public:
  enum Field { kOp, kTarget, kArgs, kKwargs, kMeta, kName, kNext, kCount };

  // `node_type` is torch.fx.Node; `names` the interned attribute names, in Field order.
  NodeFields(py::handle node_type, const std::array<const py::str*, kCount>& names) : names_(names) {
    type_ = reinterpret_cast<PyTypeObject*>(node_type.ptr());
    for (int f = 0; f < kCount; ++f) {
      PyObject* descr = _PyType_Lookup(type_, names[f]->ptr());  // borrowed; nullptr if absent
      if (!descr || Py_TYPE(descr) != &PyMemberDescr_Type) continue;
      const PyMemberDef* member = reinterpret_cast<PyMemberDescrObject*>(descr)->d_member;
      if ((member->type == T_OBJECT_EX || member->type == T_OBJECT) && !(member->flags & READ_RESTRICTED))
        offsets_[f] = member->offset;
    }
  }

  // node.<field> as a new reference; raises (py::error_already_set) exactly where getattr would.
  py::object get(py::handle node, Field f) const {
    if (Py_TYPE(node.ptr()) == type_ && offsets_[f] >= 0) {
      PyObject* value = *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(node.ptr()) + offsets_[f]);
      if (value) return py::reinterpret_borrow<py::object>(value);
    }
    return node.attr(*names_[f]);
  }

 private:
  PyTypeObject* type_;
  std::array<const py::str*, kCount> names_;
  std::array<Py_ssize_t, kCount> offsets_ = {-1, -1, -1, -1, -1, -1, -1};
};

}  // namespace graphcache::py_frontend
