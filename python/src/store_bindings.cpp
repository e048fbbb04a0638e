#include "store_bindings.hpp"

#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "graphcache/bundle.hpp"
#include "graphcache/error.hpp"
#include "graphcache/open_store.hpp"
#include "graphcache/signing.hpp"

namespace graphcache::py_frontend {

namespace py = pybind11;

namespace {

// Warnings raised inside store calls (without the GIL) are queued and emitted as Python warnings after
// the call, so that `-W error` turns them into exceptions at the Python boundary, not inside C++.
class WarningQueue {
 public:
  void push(const std::string& message) {
    std::lock_guard lock(mutex_);
    pending_.push_back(message);
  }
  void flush() {
    std::vector<std::string> messages;
    {
      std::lock_guard lock(mutex_);
      messages.swap(pending_);
    }
    for (const auto& m : messages) {
      if (PyErr_WarnEx(PyExc_RuntimeWarning, ("graphcache: " + m).c_str(), 1) < 0)
        throw py::error_already_set();
    }
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> pending_;
};

struct PyLocalStore {
  std::shared_ptr<WarningQueue> warnings = std::make_shared<WarningQueue>();
  WarningSink sink;  // pushes onto `warnings` (weakly: tiers may outlive this object)
  StoreConfig config;
  OpenedStore opened;                    // open_store(config): local, and layered over the remote if any
  std::unique_ptr<SingleFlight> flight;  // build locks (make_single_flight), made on first use
  // get/put/remove/list/stats go through both tiers; gc/verify/clear are local maintenance.
  Store& tiers() { return *opened.tiers; }
  LocalStore* local() { return opened.local.get(); }
};

// A held build lock (context manager). build_lock keeps its LocalStore, whose SingleFlight owns the
// lock services, alive while it exists.
struct PyBuildLock {
  std::unique_ptr<BuildLock> lock;
  void release() { lock.reset(); }
};

// Keeps an entry's engine bytes alive for as long as a memoryview of them exists.
struct EngineView {
  std::shared_ptr<const EngineBlob> blob;
};

template <typename F>
auto without_gil(PyLocalStore& s, F&& f) {
  struct Flush {
    PyLocalStore& s;
    ~Flush() noexcept(false) {
      if (!std::uncaught_exceptions()) s.warnings->flush();
    }
  } flush{s};
  py::gil_scoped_release unlocked;
  return f();
}

std::map<std::string, std::string> str_map(py::handle v, const char* field) {
  std::map<std::string, std::string> out;
  if (v.is_none()) return out;
  if (!PyDict_Check(v.ptr()))
    throw Error(ErrorKind::kInvalidArgument, std::string("metadata '") + field + "' must be a dict");
  for (auto [k, x] : v.cast<py::dict>()) out[py::str(k)] = py::str(x);
  return out;
}

std::vector<std::string> str_list(py::handle v) {
  std::vector<std::string> out;
  if (v.is_none()) return out;
  for (py::handle x : v) out.push_back(py::str(x));
  return out;
}

EntryMetadata metadata_from(py::handle dict) {
  EntryMetadata m;
  if (dict.is_none()) return m;
  if (!PyDict_Check(dict.ptr())) throw Error(ErrorKind::kInvalidArgument, "metadata must be a dict");
  for (auto [k, v] : dict.cast<py::dict>()) {
    const std::string name = py::str(k);
    if (name == "key_parts")
      m.key_parts = str_map(v, "key_parts");
    else if (name == "input_names")
      m.input_names = str_list(v);
    else if (name == "output_names")
      m.output_names = str_list(v);
    else if (name == "weight_slots")
      m.weight_slots = str_list(v);
    else if (name == "weight_fingerprint") {
      if (!v.is_none()) m.weight_fingerprint = Digest::from_hex(py::str(v).cast<std::string>());
    } else if (name == "refit_mode")
      m.refit_mode = py::str(v);
    else if (name == "tool_versions")
      m.tool_versions = str_map(v, "tool_versions");
    else if (name == "extra")
      m.extra = str_map(v, "extra");
    else if (name == "created_unix")
      m.created_unix = v.cast<int64_t>();
    else if (name == "signature")  // carried as is: readers verify it (graphcache/signing.hpp)
      m.signature = py::str(v);
    else
      throw Error(ErrorKind::kInvalidArgument, "unknown metadata field '" + name + "'");
  }
  return m;
}

}  // namespace

py::dict metadata_to_dict(const EntryMetadata& m) {
  py::dict d;
  d["key_parts"] = m.key_parts;
  d["input_names"] = m.input_names;
  d["output_names"] = m.output_names;
  d["weight_slots"] = m.weight_slots;
  d["weight_fingerprint"] =
      m.weight_fingerprint ? py::object(py::str(m.weight_fingerprint->hex())) : py::none();
  d["refit_mode"] = m.refit_mode;
  d["tool_versions"] = m.tool_versions;
  d["extra"] = m.extra;
  d["created_unix"] = m.created_unix;
  if (!m.signature.empty()) d["signature"] = m.signature;
  return d;
}

namespace {

py::dict stats_to(const StoreStats& s) {
  py::dict d;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["puts"] = s.puts;
  d["evictions"] = s.evictions;
  d["corrupt"] = s.corrupt;
  d["errors"] = s.errors;
  d["bytes_read"] = s.bytes_read;
  d["bytes_written"] = s.bytes_written;
  d["entries"] = s.entries;
  d["stored_bytes"] = s.stored_bytes;
  d["untrusted"] = s.untrusted;
  return d;
}

std::unique_ptr<PyLocalStore> make_store(py::object path, py::object max_bytes, py::object max_entries,
                                         py::object compress, py::object fsync, py::object remote,
                                         py::object remote_read_only, py::object signing_key,
                                         py::object trusted_keys, py::object require_signature) {
  StoreConfigOverrides overrides;
  const auto fspath = py::module_::import("os").attr("fspath");
  overrides.cache_dir = py::str(fspath(path)).cast<std::string>();
  if (!remote.is_none()) overrides.remote = py::str(remote).cast<std::string>();
  if (!remote_read_only.is_none()) overrides.remote_read_only = remote_read_only.cast<bool>() ? "on" : "off";
  // Trust settings: explicit arguments > GRAPHCACHE_SIGNING_KEY / _TRUSTED_KEYS / _REQUIRE_SIGNATURE > file.
  if (!signing_key.is_none()) overrides.signing_key = py::str(fspath(signing_key)).cast<std::string>();
  if (!trusted_keys.is_none()) {
    std::string joined;
    for (py::handle k : trusted_keys)
      joined += (joined.empty() ? "" : ":") + py::str(fspath(k)).cast<std::string>();
    overrides.trusted_keys = joined;
  }
  if (!require_signature.is_none())
    overrides.require_signature = require_signature.cast<bool>() ? "on" : "off";
  StoreConfig config = resolve_store_config(overrides);
  if (!max_bytes.is_none()) config.max_size = max_bytes.cast<uint64_t>();
  if (!max_entries.is_none()) config.max_entries = max_entries.cast<uint64_t>();
  if (!compress.is_none()) config.compress = compress.cast<bool>();
  if (!fsync.is_none()) config.fsync = fsync.cast<bool>();
  auto s = std::make_unique<PyLocalStore>();
  std::weak_ptr<WarningQueue> queue = s->warnings;
  s->sink = [queue](const std::string& message) {
    if (auto q = queue.lock()) q->push(message);
  };
  s->config = config;
  s->opened = open_store(config, s->sink);
  return s;
}

}  // namespace

void bind_local_store(py::module_& m) {
  py::class_<EngineView>(m, "EngineView", py::buffer_protocol(), "Read-only engine bytes of a cache entry.")
      .def_buffer([](EngineView& v) {
        return py::buffer_info(const_cast<uint8_t*>(v.blob->data()), 1,
                               py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(v.blob->size())}, {1}, /*readonly=*/true);
      })
      .def("__len__", [](const EngineView& v) { return v.blob->size(); });

  py::class_<PyBuildLock>(m, "BuildLock", "A held build lock; release() or leave the with-block to free it.")
      .def("release", [](PyBuildLock& l) { l.release(); })
      .def(
          "__enter__", [](PyBuildLock& l) -> PyBuildLock& { return l; }, py::return_value_policy::reference)
      .def("__exit__", [](PyBuildLock& l, py::args) { l.release(); })
      .def_property_readonly("held", [](const PyBuildLock& l) { return l.lock && l.lock->still_held(); });

  py::class_<PyLocalStore>(m, "LocalStore",
                           "The local disk tier of the engine cache (see store_bindings.hpp).")
      .def(py::init(&make_store), py::arg("path"), py::arg("max_bytes") = py::none(),
           py::arg("max_entries") = py::none(), py::arg("compress") = py::none(),
           py::arg("fsync") = py::none(), py::arg("remote") = py::none(),
           py::arg("remote_read_only") = py::none(), py::arg("signing_key") = py::none(),
           py::arg("trusted_keys") = py::none(), py::arg("require_signature") = py::none())
      .def(
          "get",
          [](PyLocalStore& s, const std::string& key_hex) -> py::object {
            const Key key = Digest::from_hex(key_hex);
            auto entry = without_gil(s, [&] { return s.tiers().get(key); });
            if (!entry) return py::none();
            py::object view = py::cast(EngineView{entry->engine});
            return py::make_tuple(py::memoryview(view), metadata_to_dict(entry->metadata));
          },
          py::arg("key"), "None on a miss (corrupt entries are misses), else (memoryview, metadata dict).")
      .def(
          "put",
          [](PyLocalStore& s, const std::string& key_hex, py::object engine, py::object metadata) {
            const Key key = Digest::from_hex(key_hex);
            const EntryMetadata md = metadata_from(metadata);
            if (PyUnicode_Check(engine.ptr()) || py::hasattr(engine, "__fspath__")) {
              const std::string path = py::str(py::module_::import("os").attr("fspath")(engine));
              without_gil(s, [&] { s.tiers().put(key, EngineSource::from_file(path), md); });
              return;
            }
            if (!PyObject_CheckBuffer(engine.ptr()))
              throw Error(ErrorKind::kInvalidArgument, "engine must be bytes-like or a file path");
            py::buffer_info info = py::reinterpret_borrow<py::buffer>(engine).request();
            if (info.ndim > 1 && !PyBuffer_IsContiguous(info.view(), 'C'))
              throw Error(ErrorKind::kInvalidArgument, "engine buffer must be contiguous");
            const auto bytes = static_cast<uint64_t>(info.size * info.itemsize);
            without_gil(s, [&] { s.tiers().put(key, EngineSource::from_memory(info.ptr, bytes), md); });
          },
          py::arg("key"), py::arg("engine"), py::arg("metadata") = py::none())
      .def(
          "remove",
          [](PyLocalStore& s, const std::string& key_hex) {
            const Key key = Digest::from_hex(key_hex);
            return without_gil(s, [&] { return s.tiers().remove(key); });
          },
          py::arg("key"))
      .def("list",
           [](PyLocalStore& s) {
             auto entries = without_gil(s, [&] { return s.tiers().list(); });
             py::list out;
             for (const auto& e : entries) {
               py::dict d;
               d["key"] = e.key.hex();
               d["stored_bytes"] = e.stored_bytes;
               d["engine_bytes"] = e.engine_bytes;
               d["created_unix"] = e.created_unix;
               d["last_used_unix"] = e.last_used_unix;
               out.append(d);
             }
             return out;
           })
      .def("stats",
           [](PyLocalStore& s) { return stats_to(without_gil(s, [&] { return s.tiers().stats(); })); })
      .def("tier_stats",
           [](PyLocalStore& s) {
             auto tiers = without_gil(s, [&] { return s.tiers().tier_stats(); });
             py::dict d;
             for (const auto& [name, stats] : tiers) d[py::str(name)] = stats_to(stats);
             return d;
           })
      .def(
          "gc",
          [](PyLocalStore& s, uint64_t max_bytes, uint64_t max_entries) {
            GcReport r = without_gil(s, [&] { return s.local()->gc(max_bytes, max_entries); });
            py::dict d;
            d["entries_before"] = r.entries_before;
            d["bytes_before"] = r.bytes_before;
            d["entries_after"] = r.entries_after;
            d["bytes_after"] = r.bytes_after;
            d["evicted"] = r.evicted;
            d["stale_temps_removed"] = r.stale_temps_removed;
            return d;
          },
          py::arg("max_bytes") = 0, py::arg("max_entries") = 0)
      .def("verify",
           [](PyLocalStore& s) {
             VerifyReport r = without_gil(s, [&] { return s.local()->verify(); });
             py::dict d;
             d["checked"] = r.checked;
             d["ok"] = r.ok;
             d["corrupt"] = r.corrupt;
             d["stale_temps_removed"] = r.stale_temps_removed;
             d["entries"] = r.entries;
             d["stored_bytes"] = r.stored_bytes;
             d["signed_trusted"] = r.signed_trusted;
             d["signed_unknown_key"] = r.signed_unknown_key;
             d["bad_signature"] = r.bad_signature;
             d["unsigned"] = r.unsigned_entries;
             d["untrusted"] = r.untrusted;
             return d;
           })
      .def(
          "bundle_create",
          [](PyLocalStore& s, py::object out, std::optional<std::vector<std::string>> keys) {
            std::vector<Key> selected;
            for (const std::string& k : keys.value_or(std::vector<std::string>{}))
              selected.push_back(Digest::from_hex(k));
            if (keys && selected.empty())
              throw Error(ErrorKind::kInvalidArgument, "bundle_create: empty key list");
            const std::string path = py::str(py::module_::import("os").attr("fspath")(out));
            const BundleCreateReport r = without_gil(s, [&] {
              return create_bundle(*s.local(), selected, path, make_entry_trust(s.config.trust).get());
            });
            py::dict d;
            d["entries"] = r.entries;
            d["bytes"] = r.bytes;
            d["unsigned_entries"] = r.unsigned_entries;
            d["signed"] = r.signed_bundle;
            return d;
          },
          py::arg("out"), py::arg("keys") = py::none(),
          "Writes the entries `keys` (hex; every entry when None) to one bundle file, signed when a signing "
          "key is configured. Returns {entries, bytes, unsigned_entries, signed}.")
      .def(
          "bundle_import",
          [](PyLocalStore& s, py::object bundle) {
            const std::string path = py::str(py::module_::import("os").attr("fspath")(bundle));
            const BundleImportReport r = without_gil(
                s, [&] { return import_bundle(*s.local(), path, make_entry_trust(s.config.trust).get()); });
            py::dict d;
            d["entries"] = r.entries;
            d["bytes"] = r.bytes;
            d["signed"] = r.signed_bundle;
            d["signer"] = r.signer_hex;
            return d;
          },
          py::arg("path"),
          "Verifies every entry of the bundle (and its signatures when require_signature is on), then adds "
          "them all; on any problem raises and adds nothing.")
      .def("clear", [](PyLocalStore& s) { return without_gil(s, [&] { return s.local()->clear(); }); })
      .def(
          "build_lock",
          [](PyLocalStore& s, const std::string& key_hex, double wait_seconds) -> std::optional<PyBuildLock> {
            const Key key = Digest::from_hex(key_hex);
            const auto wait = std::chrono::milliseconds(static_cast<int64_t>(wait_seconds * 1000));
            if (!s.flight)  // with the GIL held: Python threads do not race to create it
              s.flight = make_single_flight(s.tiers(), s.config, s.sink);
            auto lock = without_gil(s, [&] { return s.flight->acquire(key, wait); });
            if (!lock) return std::nullopt;
            return PyBuildLock{std::move(lock)};
          },
          py::keep_alive<0, 1>(), py::arg("key"), py::arg("wait_seconds") = 1800.0,
          "Waits until this process holds the build lock of `key` and returns it, or None after "
          "wait_seconds (then build without it). A crashed holder's lock is freed (flock) or expires "
          "(Redis).")
      .def("entry_path",
           [](PyLocalStore& s, const std::string& key_hex) {
             return s.local()->entry_path(Digest::from_hex(key_hex));
           })
      .def_property_readonly("path", [](PyLocalStore& s) { return s.local()->config().cache_dir; })
      .def_property_readonly("max_bytes", [](PyLocalStore& s) { return s.local()->config().max_size; })
      .def_property_readonly("max_entries", [](PyLocalStore& s) { return s.local()->config().max_entries; })
      .def_property_readonly(
          "remote",
          [](PyLocalStore& s) -> py::object {
            return s.config.remote.empty() ? py::object(py::none()) : py::object(py::str(s.config.remote));
          },
          "The remote tier's URL (argument, GRAPHCACHE_REMOTE or the config file), or None.");
}

}  // namespace graphcache::py_frontend
