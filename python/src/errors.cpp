#include "errors.hpp"

#include "graphcache/error.hpp"

namespace graphcache::py_frontend {

namespace py = pybind11;

namespace {

// Owned by the module (added as attributes); the module lives until interpreter shutdown.
PyObject* g_types[6] = {};

PyObject* type_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return g_types[0];
    case ErrorKind::kInvalidModel:
      return g_types[1];
    case ErrorKind::kIo:
      return g_types[2];
    case ErrorKind::kCorrupt:
      return g_types[3];
    case ErrorKind::kUnsupported:
      return g_types[4];
    case ErrorKind::kInternal:
      return g_types[5];
  }
  return g_types[5];
}

PyObject* new_type(py::module_& m, const char* name, std::initializer_list<PyObject*> bases,
                   const char* doc) {
  py::tuple base_tuple(bases.size());
  size_t i = 0;
  for (PyObject* b : bases) base_tuple[i++] = py::reinterpret_borrow<py::object>(b);
  const std::string qualified = "graphcache." + std::string(name);
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base_tuple.ptr(), nullptr);
  if (!type) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(type));
  return type;
}

}  // namespace

void register_errors(py::module_& m) {
  PyObject* base = new_type(m, "Error", {PyExc_RuntimeError}, "Base class of every graphcache error.");
  g_types[0] =
      new_type(m, "InvalidArgumentError", {base, PyExc_ValueError}, "A malformed argument (key, setting).");
  g_types[1] =
      new_type(m, "InvalidModelError", {base, PyExc_ValueError}, "A malformed or inconsistent model.");
  g_types[2] = new_type(m, "IoError", {base}, "A file system or network failure.");
  g_types[3] = new_type(m, "CorruptError", {base}, "Stored data failed an integrity check.");
  g_types[4] = new_type(m, "UnsupportedError", {base, PyExc_NotImplementedError},
                        "A valid input graphcache deliberately does not key (see the message).");
  g_types[5] = new_type(m, "InternalError", {base}, "A bug in graphcache.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(type_for(e.kind()), e.what());
    }
  });
}

}  // namespace graphcache::py_frontend
