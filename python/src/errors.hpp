// graphcache::Error -> Python exceptions: graphcache.Error (a RuntimeError) and one subclass per kind
// (InvalidArgumentError and InvalidModelError are also ValueErrors, UnsupportedError a
// NotImplementedError), so callers can catch either the graphcache or the builtin category.
#pragma once

#include <pybind11/pybind11.h>

namespace graphcache::py_frontend {

void register_errors(pybind11::module_& m);

}  // namespace graphcache::py_frontend
