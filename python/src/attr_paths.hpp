// The object a dotted get_attr / call_module target (`layers.0.self_attn.q_proj.weight`) names on a
// module, resolved as Python's getattr would, with resolved prefixes memoized per walk.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "graphcache/error.hpp"
#include "torch_types.hpp"

namespace graphcache::py_frontend {

namespace detail {

// getattr(obj, name) for one segment (see attr_paths.cpp); a new reference, or null (no exception set)
// when the attribute does not exist.
PyObject* attr_segment(const TorchTypes& t, PyObject* obj, PyObject* name);
// One segment of a dotted target as an interned str (kept for the process, bounded).
py::object segment_name(std::string_view part);

// Hash of std::string / std::string_view alike (heterogeneous lookup: no key string built to look up).
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace detail

// The object a dotted get_attr / call_module target names, with resolved prefixes memoized per walk
// (a Llama layer's weights share `layers.N.self_attn`).
class AttrPaths {
 public:
  explicit AttrPaths(const TorchTypes& t) : t_(t) {}

  py::object resolve(py::handle owner, const std::string& target) {
    const size_t dot = target.rfind('.');
    const std::string_view path(target);
    py::object parent = dot == std::string::npos ? py::reinterpret_borrow<py::object>(owner)
                                                 : prefix(owner, target, path.substr(0, dot));
    return segment(parent, target, path.substr(dot == std::string::npos ? 0 : dot + 1));
  }

 private:
  py::object prefix(py::handle owner, const std::string& target, std::string_view path) {
    if (auto it = prefixes_.find(path); it != prefixes_.end()) return it->second;
    const size_t dot = path.rfind('.');
    py::object parent = dot == std::string::npos ? py::reinterpret_borrow<py::object>(owner)
                                                 : prefix(owner, target, path.substr(0, dot));
    py::object obj = segment(parent, target, path.substr(dot == std::string::npos ? 0 : dot + 1));
    prefixes_.emplace(std::string(path), obj);
    return obj;
  }

  py::object segment(py::handle parent, const std::string& target, std::string_view part) {
    PyObject* v = detail::attr_segment(t_, parent.ptr(), detail::segment_name(part).ptr());
    if (!v) throw Error(ErrorKind::kInvalidModel, "fx target '" + target + "' does not exist on the module");
    return py::reinterpret_steal<py::object>(v);
  }

  const TorchTypes& t_;
  std::unordered_map<std::string, py::object, detail::TextHash, std::equal_to<>> prefixes_;
};

}  // namespace graphcache::py_frontend
