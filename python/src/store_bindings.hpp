// graphcache._core.LocalStore: the C++ local disk store for Python.
//
// LocalStore(path, max_bytes=None, max_entries=None, compress=None, fsync=None, remote=None,
//            remote_read_only=None, signing_key=None, trusted_keys=None, require_signature=None)
//   The arguments are the highest-precedence overrides of one StoreConfig; what they leave as None comes
//   from the environment / config file (store_config.hpp; GRAPHCACHE_REMOTE too), and open_store builds
//   the tiers (open_store.hpp). With a remote ("redis://host:port/db?prefix=.."):
//   get/put/remove/list/stats go through the layered store
//   (local first, then Redis; layered_store.hpp), tier_stats() -> {"local": {...}, "redis": {...}};
//   gc/verify/clear stay local maintenance.
// get(key_hex) -> None | (engine: memoryview (read-only, may map the entry file), metadata: dict)
// put(key_hex, engine: bytes-like | str | os.PathLike (streamed from the file), metadata: dict)
// remove(key_hex) -> bool;  list() -> [dict];  stats() -> dict;  gc(max_bytes=0, max_entries=0) -> dict;
// verify() -> dict;  clear() -> int;  entry_path(key_hex) -> str;  path, max_bytes, max_entries, remote
// (read-only) build_lock(key_hex, wait_seconds=1800) -> BuildLock | None: one builder per key (Redis lock
// with a
//   writable remote, across hosts; flock in <path>/locks otherwise); None when the wait ran out.
// metadata dict keys: key_parts, input_names, output_names, weight_slots, weight_fingerprint (hex or None),
//   refit_mode, tool_versions, extra (str -> str), created_unix. Unknown keys raise InvalidArgumentError.
// Keys are validated (64 hex digits) before they touch the file system. Corrupt entries are misses and
// are reported as RuntimeWarning after the call; the GIL is released during disk I/O.
#pragma once

#include <pybind11/pybind11.h>

#include "graphcache/store.hpp"

namespace graphcache::py_frontend {

void bind_local_store(pybind11::module_& m);
// The metadata dict above (also what key_fx / key_export return as "metadata").
pybind11::dict metadata_to_dict(const EntryMetadata& metadata);

}  // namespace graphcache::py_frontend
