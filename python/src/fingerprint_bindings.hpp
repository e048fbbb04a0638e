#pragma once

#include <pybind11/pybind11.h>

namespace graphcache::py_frontend {

// _core.weight_fingerprint(tensors, secure=False, threads=0) -> hex: the C++ weight fingerprint
// (include/graphcache/fingerprint.hpp) of torch tensors in the given order, read in place.
void bind_fingerprint(pybind11::module_& m);

}  // namespace graphcache::py_frontend
