// Dotted fx target resolution (attr_paths.hpp): one getattr segment by dict lookups where that is what
// Python does, and interned segment names.
#include "attr_paths.hpp"

namespace graphcache::py_frontend::detail {

namespace {

PyObject* new_ref(PyObject* o) {
  Py_INCREF(o);
  return o;
}

}  // namespace

// getattr(obj, name) for one segment of a dotted fx target. nn.Module resolves `layers.0.attn.q_proj`
// through Module.__getattr__ after a failed generic lookup at every level (~9 us per weight on a Llama
// graph). Where the type's getattr is the generic one followed by nn.Module.__getattr__ and the class
// defines nothing of that name (no descriptor or class attribute takes precedence), the answer is the
// instance __dict__'s entry, else that of _parameters, _buffers or _modules, in that order - read here by
// dict lookups. Anything else (properties, custom __getattr__ / __getattribute__, non-dict containers)
// takes Python's own getattr. Null (no exception set) when the attribute does not exist.
PyObject* attr_segment(const TorchTypes& t, PyObject* obj, PyObject* name) {
  static PyObject* const module_getattr = [] {
    PyObject* f = PyObject_GetAttrString(py::module_::import("torch.nn").attr("Module").ptr(), "__getattr__");
    if (!f) throw py::error_already_set();
    return f;  // leaked on purpose (outlives the interpreter's teardown order)
  }();
  static PyObject* const getattribute_name = PyUnicode_InternFromString("__getattribute__");
  static PyObject* const getattr_name = PyUnicode_InternFromString("__getattr__");
  PyTypeObject* type = Py_TYPE(obj);
  PyObject** dict_slot = _PyObject_GetDictPtr(obj);
  PyObject* dict = dict_slot ? *dict_slot : nullptr;
  const bool generic =
      dict && PyDict_CheckExact(dict) && _PyType_Lookup(type, name) == nullptr &&
      _PyType_Lookup(type, getattr_name) == module_getattr &&
      _PyType_Lookup(type, getattribute_name) == _PyType_Lookup(&PyBaseObject_Type, getattribute_name);
  if (generic) {
    if (PyObject* v = PyDict_GetItemWithError(dict, name)) return new_ref(v);
    if (PyErr_Occurred()) throw py::error_already_set();
    bool tables_are_dicts = true;
    for (const py::str* table_name : {&t.s_parameters, &t.s_buffers, &t.s_modules}) {
      PyObject* table = PyDict_GetItemWithError(dict, table_name->ptr());
      if (!table) {
        if (PyErr_Occurred()) throw py::error_already_set();
        continue;
      }
      if (!PyDict_CheckExact(table)) {
        tables_are_dicts = false;
        break;
      }
      if (PyObject* v = PyDict_GetItemWithError(table, name)) return new_ref(v);
      if (PyErr_Occurred()) throw py::error_already_set();
    }
    if (tables_are_dicts) return nullptr;
  }
  PyObject* v = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
  if (PyObject_GetOptionalAttr(obj, name, &v) < 0) throw py::error_already_set();
#else
  if (_PyObject_LookupAttr(obj, name, &v) < 0) throw py::error_already_set();
#endif
  return v;
}

// One segment of a dotted target as an interned str, kept for the process (bounded): a fresh str per
// lookup cost a UTF-8 decode, a hash, and a miss in the type attribute cache (which takes interned names
// only) at every level of every weight's path.
py::object segment_name(std::string_view part) {
  static auto* names = new std::unordered_map<std::string, PyObject*, TextHash, std::equal_to<>>();  // leaked
  constexpr size_t kMaxNames = 1 << 16;
  if (auto it = names->find(part); it != names->end()) return py::reinterpret_borrow<py::object>(it->second);
  PyObject* name = PyUnicode_FromStringAndSize(part.data(), static_cast<Py_ssize_t>(part.size()));
  if (!name) throw py::error_already_set();
  PyUnicode_InternInPlace(&name);
  if (names->size() < kMaxNames) {
    Py_INCREF(name);  // the table's reference
    names->emplace(std::string(part), name);
  }
  return py::reinterpret_steal<py::object>(name);
}

}  // namespace graphcache::py_frontend::detail
