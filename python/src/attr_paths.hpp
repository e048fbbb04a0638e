// The object a dotted get_attr / call_module target (`layers.0.self_attn.q_proj.weight`) names on a
// module, resolved as Python's getattr would, reusing the previous target's shared prefixes.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

// The object a dotted get_attr / call_module target names. fx lists a module's get_attr nodes in the
// order the model uses its weights, so consecutive targets share their leading segments
// (`layers.3.self_attn.q_proj.weight`, then `layers.3.self_attn.k_proj.weight`): the objects of the
// previous target's prefixes are kept, and only the segments after the shared ones are looked up. No
// string is built or hashed per target (a memo of prefixes by name was a tenth of a Torch-TensorRT key).
class AttrPaths {
 public:
  explicit AttrPaths(const TorchTypes& t) : t_(t) {}

  // One owner per AttrPaths (the walked GraphModule).
  py::object resolve(py::handle owner, const std::string& target) {
    // Segments of `target` shared with the previous one reuse its prefix objects (never the last segment:
    // the target itself is looked up every time, as getattr would).
    size_t shared = 0, start = 0;
    while (shared < prefix_ends_.size()) {
      const size_t end = prefix_ends_[shared];
      if (end >= target.size() || target[end] != '.' ||
          target.compare(start, end - start, last_, start, end - start) != 0)
        break;
      start = end + 1;
      ++shared;
    }
    prefix_ends_.resize(shared);
    prefix_objects_.resize(shared);
    last_.assign(target, 0, start);
    py::object parent = shared == 0 ? py::reinterpret_borrow<py::object>(owner) : prefix_objects_.back();
    for (size_t dot = target.find('.', start); dot != std::string::npos; dot = target.find('.', start)) {
      parent = segment(parent, target, std::string_view(target).substr(start, dot - start));
      prefix_objects_.push_back(parent);
      prefix_ends_.push_back(dot);
      last_.append(target, start, dot - start + 1);
      start = dot + 1;
    }
    return segment(parent, target, std::string_view(target).substr(start));
  }

 private:
  py::object segment(py::handle parent, const std::string& target, std::string_view part) {
    PyObject* v = detail::attr_segment(t_, parent.ptr(), detail::segment_name(part).ptr());
    if (!v) throw Error(ErrorKind::kInvalidModel, "fx target '" + target + "' does not exist on the module");
    return py::reinterpret_steal<py::object>(v);
  }

  const TorchTypes& t_;
  std::string last_;                        // the previous target's prefix segments, each followed by '.'
  std::vector<size_t> prefix_ends_;         // end of each prefix segment in last_ (the '.' after it)
  std::vector<py::object> prefix_objects_;  // the object each prefix of last_ names
};

}  // namespace graphcache::py_frontend
