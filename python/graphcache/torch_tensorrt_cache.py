"""Torch-TensorRT's custom engine cache protocol backed by graphcache's key and store.

Torch-TensorRT (torch_tensorrt.dynamo._engine_cache.BaseEngineCache) calls, on each TensorRT subgraph:
  hash = cache.get_hash(gm, input_specs, settings)
  cache.check(hash)  -> None | unpacked entry tuple        (check = unpack(load(hash)))
  cache.insert(hash, entry_tuple)                           (insert = save(hash, pack(*entry)))
and users implement save(hash, blob) / load(hash) -> bytes | None. The entry tuple is
(serialized_engine, input_names, output_names, input_specs, compilation_settings, ...) - its tail varies
between releases (weight_name_map + requires_output_allocator in 2.5-2.9; requires_output_allocator,
requires_native_multidevice, aliased_io later), so pack/unpack here round-trip a tuple of any arity.

Differences from the stock implementation, and why:
  * get_hash uses graphcache's structural key (edges, constant arguments, shapes, dtypes; names
    ignored) instead of a string of op targets, which gives sub(x, y) and sub(y, x) one hash.
  * pack/unpack never pickle: entries use graphcache.blob_codec (versioned tagged JSON + raw payload);
    save() refuses blobs in any other format, so a pickle can never reach the store.
  * The refit mode is a key part: an engine built with refit_identical_engine_weights is keyed with
    its weights' fingerprint (it must never be refit with different weights), immutable_weights
    engines likewise.
  * Nothing raises into the compile: get_hash returns None (Torch-TRT then builds without the cache)
    for a subgraph it cannot key soundly; insert/check log and skip / miss.
  * The engine may be any buffer-protocol object (TensorRT's IHostMemory); it is copied once, into the
    blob. Directory / size semantics follow DiskEngineCache, with a directory of our own by default.
Checked against the installed torch_tensorrt 2.13.0 call sites: tests/python/test_trt_real_callsites.py.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import sys
import threading
import weakref
from collections import OrderedDict
from typing import Any, Mapping, Optional, Sequence, Tuple

from . import blob_codec
from . import explain as _explain
from .engine_cache import EngineCache

_LOGGER = logging.getLogger(__name__)

try:  # the real base class when Torch-TensorRT is installed
    from torch_tensorrt.dynamo._engine_cache import BaseEngineCache as _ProtocolBase

    HAVE_TORCH_TENSORRT = True
except Exception:  # noqa: BLE001 - not installed (CPU CI), or its TensorRT libraries are missing
    _ProtocolBase = object
    HAVE_TORCH_TENSORRT = False

# torch_tensorrt.dynamo._settings._SETTINGS_TO_BE_ENGINE_INVARIANT as of 2.9, used when the real list
# cannot be imported. A changed value of any of these must rebuild the engine.
_FALLBACK_ENGINE_RELEVANT = (
    "enabled_precisions", "max_aux_streams", "version_compatible", "optimization_level", "disable_tf32",
    "sparse_weights", "engine_capability", "hardware_compatible", "refit_identical_engine_weights",
    "strip_engine_weights", "immutable_weights", "enable_weight_streaming", "tiling_optimization_level",
    "l2_limit_for_tiling", "enable_autocast", "autocast_low_precision_type", "autocast_excluded_nodes",
    "autocast_excluded_ops", "autocast_max_output_threshold", "autocast_max_depth_of_reduction",
    "autocast_calibration_dataloader",
)

DEFAULT_TRUSTED_MODULES = ("torch_tensorrt", "tensorrt")


def engine_relevant_setting_names() -> Tuple[str, ...]:
    try:
        from torch_tensorrt.dynamo._settings import _SETTINGS_TO_BE_ENGINE_INVARIANT

        return tuple(_SETTINGS_TO_BE_ENGINE_INVARIANT)
    except Exception:  # noqa: BLE001
        return _FALLBACK_ENGINE_RELEVANT


DEFAULT_ENGINE_CACHE_SIZE = 5 << 30  # torch_tensorrt.dynamo._defaults.ENGINE_CACHE_SIZE (5 GiB)
_RECENT_KEYS = 256  # how many get_hash results are remembered for save()'s metadata (bounded)


def default_cache_dir() -> str:
    """<XDG_CACHE_HOME or ~/.cache>/graphcache/torch_tensorrt - not Torch-TRT's own default directory,
    whose DiskEngineCache LRU deletes every file it finds there."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "graphcache", "torch_tensorrt")


class _StaticOrBound:
    """get_hash is a staticmethod on BaseEngineCache; ours is callable the same way
    (`GraphcacheTRTEngineCache.get_hash(gm, specs, settings)`) and, on an instance, also applies the
    instance's toolchain overrides."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self.fn
        return functools.partial(self.fn, toolchain=getattr(obj, "toolchain_overrides", None))


class GraphcacheTRTEngineCache(_ProtocolBase):  # type: ignore[misc, valid-type]
    """Pass as `custom_engine_cache=` to torch_tensorrt.compile / torch.compile(backend="tensorrt").

    engine_cache_dir: None -> default_cache_dir(). engine_cache_size: bytes, as for DiskEngineCache
    (default 5 GiB); 0 stores nothing, None means no size limit; an entry larger than the limit is not
    stored (a warning says so). Least-recently-used entries are evicted beyond the limit.
    """

    # hash -> _Keyed (the key info save() records in the entry's metadata, and a weak reference to the
    # subgraph for its explain factors); shared by the static get_hash, bounded.
    _recent: "OrderedDict[str, _Keyed]" = OrderedDict()
    _recent_lock = threading.Lock()

    def __init__(
        self,
        engine_cache_dir: Optional[str] = None,
        engine_cache_size: Optional[int] = DEFAULT_ENGINE_CACHE_SIZE,
        *,
        max_entries: Optional[int] = None,
        toolchain: Optional[Mapping[str, str]] = None,
        trusted_modules: Sequence[str] = DEFAULT_TRUSTED_MODULES,
    ) -> None:
        if engine_cache_size is not None and int(engine_cache_size) < 0:
            raise ValueError(f"graphcache: engine_cache_size must be >= 0 or None, got {engine_cache_size}")
        self.engine_cache_dir = os.fspath(engine_cache_dir) if engine_cache_dir is not None else default_cache_dir()
        os.makedirs(self.engine_cache_dir, exist_ok=True)
        self.total_engine_cache_size = None if engine_cache_size is None else int(engine_cache_size)
        # 0 in the store means "no limit": a size of 0 is handled here (nothing is stored).
        store_limit = self.total_engine_cache_size or None
        self.cache = EngineCache(self.engine_cache_dir, max_bytes=store_limit, max_entries=max_entries)
        self.toolchain_overrides = dict(toolchain or {})
        self.toolchain = {**_toolchain(), **self.toolchain_overrides}
        self.trusted_modules = tuple(trusted_modules)

    # ---------------------------------------------------------------------------------------- hashing
    @_StaticOrBound
    def get_hash(gm: Any, input_specs: Sequence[Any] = (), settings: Any = None, *,
                 toolchain: Optional[Mapping[str, str]] = None) -> Optional[str]:
        """64 hex digits: graphcache's structural key of `gm` + input specs + engine-relevant settings +
        toolchain/GPU identity. Never raises: when the subgraph cannot be keyed soundly (or holds a setting
        without a stable identity, like a calibration data loader) it logs a warning and returns None,
        which Torch-TensorRT treats as "do not cache this subgraph"."""
        try:
            return _get_hash(gm, input_specs, settings, toolchain)
        except _NotCacheable as e:
            _LOGGER.warning("graphcache: not caching this Torch-TensorRT subgraph: %s", e)
        except Exception as e:  # noqa: BLE001 - never an exception into the compile
            _LOGGER.warning("graphcache: could not key this Torch-TensorRT subgraph (%s: %s); it is built "
                            "without the cache", type(e).__name__, e)
        return None

    # ---------------------------------------------------------------------------------------- packing
    @staticmethod
    def pack(*entry: Any, **named: Any) -> bytes:
        """Entry fields positionally (BaseEngineCache.pack's order) or by its parameter names."""
        return blob_codec.encode(tuple(entry) + tuple(_named_fields(named)))

    @staticmethod
    def unpack(packed_obj: Any, trusted_modules: Sequence[str] = DEFAULT_TRUSTED_MODULES) -> Tuple[Any, ...]:
        return blob_codec.decode(packed_obj, trusted_modules)

    def insert(self, hash: str, entry: Sequence[Any], *args: Any, **kwargs: Any) -> None:
        # The base class's insert/check call BaseEngineCache.pack/unpack (pickle): override both.
        if hash is None:
            return
        try:
            blob = self.pack(*entry)
        except Exception as e:  # noqa: BLE001 - never an exception into the compile
            _LOGGER.warning("graphcache: Torch-TensorRT engine %s not cached: %s", str(hash)[:16], e)
            return
        self.save(hash, blob, *args, **kwargs)

    def check(self, hash: str, *args: Any, **kwargs: Any) -> Optional[Tuple[Any, ...]]:
        if hash is None:
            return None
        try:
            found = self.cache.store.get(hash)
        except Exception as e:  # noqa: BLE001 - an unreadable entry is a miss
            _LOGGER.warning("graphcache: Torch-TensorRT cache lookup of %s failed: %s", str(hash)[:16], e)
            return None
        if found is None:
            if _explain.logger.isEnabledFor(logging.INFO):
                self._log_miss_explanation(hash)
            return None
        try:
            return self.unpack(found[0], self.trusted_modules)
        except blob_codec.CodecError as e:
            _LOGGER.warning("graphcache: dropping unreadable Torch-TensorRT cache entry %s: %s", hash[:16], e)
            self.cache.store.remove(hash)
            return None

    # ---------------------------------------------------------------------------------------- storage
    def save(self, hash: str, blob: Any, *args: Any, **kwargs: Any) -> None:
        view = memoryview(blob).cast("B")
        if bytes(view[: len(blob_codec.MAGIC)]) != blob_codec.MAGIC:
            raise ValueError(
                "graphcache: refusing to store a Torch-TensorRT cache blob that is not in graphcache's "
                "format (the stock pack() pickles; use GraphcacheTRTEngineCache.insert)"
            )
        limit = self.total_engine_cache_size
        if limit is not None and view.nbytes > limit:
            _LOGGER.warning(
                "The serialized engine cannot be saved because the size %d is larger than the total cache "
                "size %d.", view.nbytes, limit)
            return
        keyed = _recent_keyed(hash)
        info = keyed.info if keyed is not None else None
        metadata = {
            "key_parts": {},
            "input_names": [],
            "output_names": [],
            "weight_slots": [],
            "refit_mode": "refittable",
            "tool_versions": dict(self.toolchain),
            "extra": {"format": "torch_tensorrt-entry/graphcache-blob-v1"},
        }
        if info is not None:
            metadata["key_parts"] = {str(k): str(v) for k, v in dict(info.parts or {}).items()}
            metadata["input_names"] = list(info.input_names)
            metadata["output_names"] = list(info.output_names)
            metadata["weight_slots"] = list(info.weight_names)
            metadata["refit_mode"] = info.refit_mode
            fp = info.settings.get("graphcache.weight_fingerprint")
            if fp is not None:
                metadata["weight_fingerprint"] = fp
            gm = keyed.model()
            if gm is not None:
                try:  # the key factors, so that later misses can be explained against this entry
                    fields = _explain.entry_fields(gm, info, hash, "torch_tensorrt subgraph " + type(gm).__name__)
                    metadata["extra"].update(fields or {})
                except Exception as e:  # noqa: BLE001 - a missing explanation must never lose the engine
                    _LOGGER.warning("graphcache: no key factors recorded for %s: %s", hash[:16], e)
        self.cache.store.put(hash, view, metadata)

    def explain(self, hash: str):
        """Why the subgraph that get_hash() last keyed as `hash` misses: graphcache.explain.Explanation, or
        None when that subgraph is no longer known (get_hash remembers a bounded number, weakly)."""
        keyed = _recent_keyed(hash)
        gm = keyed.model() if keyed is not None else None
        return None if gm is None else _explain.explain(self.cache, gm, keyed.info)

    def _log_miss_explanation(self, hash: str) -> None:
        try:
            explanation = self.explain(hash)
            if explanation is not None:
                _explain.logger.info("graphcache: %s", explanation)
        except Exception as e:  # noqa: BLE001 - never an exception into the compile
            _explain.logger.warning("graphcache: cannot explain the miss of %s: %s", str(hash)[:16], e)

    def load(self, hash: str, *args: Any, **kwargs: Any) -> Optional[bytes]:
        found = self.cache.store.get(hash)
        if found is None:
            return None
        engine, _metadata = found
        return bytes(engine)


class _NotCacheable(Exception):
    pass


class _Keyed:
    """What get_hash() remembers of one key: its CacheKeyInfo and the subgraph, weakly (never kept alive)."""

    __slots__ = ("info", "model")

    def __init__(self, info: Any, gm: Any) -> None:
        self.info = info
        try:
            self.model = weakref.ref(gm)
        except TypeError:  # not weak-referenceable: no factors for this entry
            self.model = lambda: None


def _recent_keyed(hash: Any) -> Optional[_Keyed]:
    with GraphcacheTRTEngineCache._recent_lock:
        return GraphcacheTRTEngineCache._recent.get(hash)


_ENTRY_FIELDS = ("serialized_engine", "input_names", "output_names", "input_specs", "compilation_settings",
                 "requires_output_allocator", "requires_native_multidevice", "aliased_io")


def _named_fields(named: Mapping[str, Any]) -> list:
    unknown = set(named) - set(_ENTRY_FIELDS)
    if unknown:
        raise TypeError(f"graphcache: pack() got unexpected keyword arguments {sorted(unknown)}")
    return [named[f] for f in _ENTRY_FIELDS if f in named]


def _get_hash(gm: Any, input_specs: Sequence[Any], settings: Any, toolchain: Optional[Mapping[str, str]]) -> str:
    hashed = {"trt." + name: _canonical(value, name) for name, value in _fields(settings).items()}
    relevant = set(hashed)  # _fields keeps the engine-relevant fields only
    specs = list(input_specs or ())
    for i, spec in enumerate(specs):
        hashed[f"trt.input.{i}"] = _canonical_input(spec)
        relevant.add(f"trt.input.{i}")
    tools = {**_toolchain(), **_gpu_identity(getattr(settings, "device", None)), **dict(toolchain or {})}
    example_inputs = None if _has_shape_metadata(gm) else _example_inputs(specs)
    mode = refit_mode_of(settings)
    info = _KEYER.key(gm, example_inputs, settings=hashed, engine_relevant=relevant, toolchain=tools,
                      refit_mode=mode)
    key = info.key if isinstance(info.key, str) else info.key.hex()
    with GraphcacheTRTEngineCache._recent_lock:
        recent = GraphcacheTRTEngineCache._recent
        recent[key] = _Keyed(info, gm)
        recent.move_to_end(key)
        while len(recent) > _RECENT_KEYS:
            recent.popitem(last=False)
    return key


def refit_mode_of(settings: Any) -> str:
    """graphcache refit mode for Torch-TensorRT CompilationSettings."""
    if getattr(settings, "immutable_weights", False):
        return "none"
    if getattr(settings, "refit_identical_engine_weights", False):
        return "refit_identical"
    return "refittable"


# --------------------------------------------------------------------------------------------------
class _NoStore:  # the keyer never stores
    pass


_KEYER = EngineCache("", store=_NoStore())


@functools.lru_cache(maxsize=1)
def _relevant_names() -> frozenset:
    return frozenset(engine_relevant_setting_names())


def _fields(settings: Any) -> dict:
    """Only the engine-relevant fields: the others do not enter the key, so they are not encoded."""
    if settings is None:
        return {}
    names = _relevant_names()
    if isinstance(settings, Mapping):
        return {k: v for k, v in settings.items() if k in names}
    return {n: getattr(settings, n) for n in names if hasattr(settings, n)}


def _canonical(value: Any, field: str = "") -> str:
    """A process-independent string for a setting value (sets sorted, enums by name, ops by qualified
    name, functions by module:qualname, no addresses). Values without such an identity (a calibration
    data loader, a lambda) raise _NotCacheable: an engine built from them cannot be matched soundly."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_canonical(v, field) for v in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v, field) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{_canonical(k, field)}:{_canonical(v, field)}" for k, v in value.items())) + "}"
    torch = sys.modules.get("torch")
    op_name = blob_codec._op_overload_name(value, torch)
    if op_name is not None:
        return f"op:{op_name}"
    if torch is not None and isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if _is_data_loader(value):
        raise _NotCacheable(f"setting {field!r} holds a data loader, whose contents have no cheap stable "
                            "identity")
    if callable(value):
        name = blob_codec.stable_callable_name(value)
        if name is None:
            raise _NotCacheable(f"setting {field!r} holds {value!r}, which has no stable name")
        return f"fn:{name}"
    if hasattr(value, "__dict__"):  # torch_tensorrt.Device and similar plain records
        state = ",".join(f"{k}={_canonical(v, field)}" for k, v in sorted(vars(value).items()))
        return f"{type(value).__module__}.{type(value).__qualname__}({state})"
    return f"{type(value).__qualname__}:{value}"


def _is_data_loader(value: Any) -> bool:
    return any(c.__name__ == "DataLoader" for c in type(value).__mro__) or (
        hasattr(value, "__iter__") and hasattr(value, "dataset"))


def _has_shape_metadata(gm: Any) -> bool:
    graph = getattr(gm, "graph", None)
    if graph is None:
        return True  # an ExportedProgram: its signature carries the shapes
    find_nodes = getattr(graph, "find_nodes", None)
    nodes = find_nodes(op="placeholder") if find_nodes is not None else [n for n in graph.nodes if n.op == "placeholder"]
    return all("val" in n.meta or "tensor_meta" in n.meta for n in nodes)


def _example_inputs(specs: Sequence[Any]) -> Optional[list]:
    """Input specs as graphcache example_inputs: (min, opt, max) profiles or a static shape + dtype."""
    if not specs:
        return None
    out = []
    for spec in specs:
        shape = getattr(spec, "shape", None)
        if isinstance(shape, Mapping):  # a dynamic torch_tensorrt.Input
            out.append({"min_shape": shape.get("min_shape"), "opt_shape": shape.get("opt_shape"),
                        "max_shape": shape.get("max_shape"), "dtype": getattr(spec, "dtype", None)})
        else:
            out.append(spec)
    return out


def _canonical_input(spec: Any) -> str:
    """Torch-TensorRT Input (or a tensor): shape mode, static shape or min/opt/max, dtype, format."""
    if hasattr(spec, "shape") and hasattr(spec, "dtype"):
        parts = [
            f"mode={_canonical(getattr(spec, 'shape_mode', ''))}",
            f"shape={_canonical(spec.shape)}",
            f"dtype={_canonical(spec.dtype)}",
            f"format={_canonical(getattr(spec, 'format', ''))}",
        ]
        if getattr(spec, "is_shape_tensor", False):
            parts.append("shape_tensor")
        return ";".join(parts)
    return _canonical(spec)


@functools.lru_cache(maxsize=1)
def _toolchain() -> dict:
    """Versions of torch / torch_tensorrt / TensorRT (their installed distributions; nothing imported)."""
    from importlib import metadata

    tools = {}
    for module, dists in (("torch", ("torch",)), ("torch_tensorrt", ("torch_tensorrt", "torch-tensorrt-rtx")),
                          ("tensorrt", ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt_rtx"))):
        mod = sys.modules.get(module)
        version = getattr(mod, "__version__", None) if mod is not None else None
        for dist in dists if version is None else ():
            try:
                version = metadata.version(dist)
                break
            except Exception:  # noqa: BLE001
                continue
        if version is not None:
            tools[module] = str(version)
    tools.setdefault("os", os.name)
    return tools


@functools.lru_cache(maxsize=64)
def _gpu_identity_of(device_type: str, gpu_id: int) -> Tuple[Tuple[str, str], ...]:
    try:
        import torch

        if device_type == "gpu" and torch.cuda.is_available() and 0 <= gpu_id < torch.cuda.device_count():
            p = torch.cuda.get_device_properties(gpu_id)
            return (("gpu", f"{p.name} sm_{p.major}{p.minor} {p.multi_processor_count}SM "
                            f"{p.total_memory >> 20}MiB"),)
    except Exception:  # noqa: BLE001
        pass
    return (("gpu", f"{device_type}: no CUDA device visible"),)


def _gpu_identity(device: Any) -> dict:
    """The GPU the engine is built for, from CompilationSettings.device (not the current device):
    name, compute capability, SM count, memory. DLA cores add their index."""
    if device is None:
        return dict(_gpu_identity_of("gpu", _current_gpu()))
    kind = str(getattr(getattr(device, "device_type", None), "name", "GPU")).lower()
    gpu_id = getattr(device, "gpu_id", None)
    gpu_id = int(gpu_id) if isinstance(gpu_id, int) and gpu_id >= 0 else _current_gpu()
    ident = dict(_gpu_identity_of("gpu" if kind != "dla" else "dla", gpu_id))
    if kind == "dla":
        ident["dla_core"] = str(getattr(device, "dla_core", -1))
    return ident


def _current_gpu() -> int:
    try:
        import torch

        return int(torch.cuda.current_device()) if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001
        return 0


def compile_module(module: Any, inputs: Sequence[Any], *, cache: Any, engine_cache: Any = None,
                   compile_fn: Any = None, **settings: Any) -> Any:
    """torch_tensorrt.dynamo.compile of `module`, exported through graphcache.export (the export cache in
    `cache`: an EngineCache or a directory), with engines cached by `engine_cache` (default: a
    GraphcacheTRTEngineCache in default_cache_dir()). A warm start thus keys, fetches and refits without
    re-tracing the module. compile_fn: the compile to call (default torch_tensorrt.dynamo.compile)."""
    from .export_cache import export_cached

    exported = export_cached(module, tuple(inputs), cache=cache)
    if compile_fn is None:
        import torch_tensorrt

        compile_fn = torch_tensorrt.dynamo.compile
    settings.setdefault("cache_built_engines", True)
    settings.setdefault("reuse_cached_engines", True)
    return compile_fn(exported.program, arg_inputs=list(inputs),
                      custom_engine_cache=engine_cache if engine_cache is not None else GraphcacheTRTEngineCache(),
                      **settings)
