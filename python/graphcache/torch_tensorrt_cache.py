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
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
from typing import Any, Mapping, Optional, Sequence, Tuple

from . import blob_codec
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


class GraphcacheTRTEngineCache(_ProtocolBase):  # type: ignore[misc, valid-type]
    """Pass as `custom_engine_cache=` to torch_tensorrt.compile / torch.compile(backend="tensorrt")."""

    def __init__(
        self,
        engine_cache_dir: str,
        engine_cache_size: Optional[int] = None,
        *,
        max_entries: Optional[int] = None,
        toolchain: Optional[Mapping[str, str]] = None,
        trusted_modules: Sequence[str] = DEFAULT_TRUSTED_MODULES,
    ) -> None:
        self.cache = EngineCache(engine_cache_dir, max_bytes=engine_cache_size, max_entries=max_entries)
        self.toolchain = {**_toolchain(), **dict(toolchain or {})}
        self.trusted_modules = tuple(trusted_modules)
        self._pending: dict = {}  # hash -> KeyInfo, so save() can record names and the refit mode

    # ---------------------------------------------------------------------------------------- hashing
    def get_hash(self, gm: Any, input_specs: Sequence[Any] = (), settings: Any = None) -> str:
        relevant_names = set(engine_relevant_setting_names())
        hashed, relevant = {}, set()
        for name, value in _fields(settings).items():
            hashed[f"trt.{name}"] = _canonical(value)
            if name in relevant_names:
                relevant.add(f"trt.{name}")
        for i, spec in enumerate(input_specs or ()):
            hashed[f"trt.input.{i}"] = _canonical_input(spec)
            relevant.add(f"trt.input.{i}")
        info = self.cache.key(
            gm,
            settings=hashed,
            engine_relevant=relevant,
            toolchain=self.toolchain,
            refit_mode=refit_mode_of(settings),
        )
        key = info.key if isinstance(info.key, str) else info.key.hex()
        self._pending[key] = info
        return key

    # ---------------------------------------------------------------------------------------- packing
    @staticmethod
    def pack(*entry: Any) -> bytes:
        return blob_codec.encode(entry)

    @staticmethod
    def unpack(packed_obj: Any, trusted_modules: Sequence[str] = DEFAULT_TRUSTED_MODULES) -> Tuple[Any, ...]:
        return blob_codec.decode(packed_obj, trusted_modules)

    def insert(self, hash: str, entry: Sequence[Any], *args: Any, **kwargs: Any) -> None:
        # The base class's insert/check call BaseEngineCache.pack/unpack (pickle): override both.
        self.save(hash, self.pack(*entry), *args, **kwargs)

    def check(self, hash: str, *args: Any, **kwargs: Any) -> Optional[Tuple[Any, ...]]:
        blob = self.load(hash, *args, **kwargs)
        if blob is None:
            return None
        try:
            return self.unpack(blob, self.trusted_modules)
        except blob_codec.CodecError as e:
            _LOGGER.warning("graphcache: dropping unreadable Torch-TensorRT cache entry %s: %s", hash[:16], e)
            self.cache.store.remove(hash)
            return None

    # ---------------------------------------------------------------------------------------- storage
    def save(self, hash: str, blob: Any, *args: Any, **kwargs: Any) -> None:
        if bytes(memoryview(blob)[: len(blob_codec.MAGIC)]) != blob_codec.MAGIC:
            raise ValueError(
                "graphcache: refusing to store a Torch-TensorRT cache blob that is not in graphcache's "
                "format (the stock pack() pickles; use GraphcacheTRTEngineCache.insert)"
            )
        info = self._pending.get(hash)
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
        self.cache.store.put(hash, bytes(blob) if not isinstance(blob, bytes) else blob, metadata)

    def load(self, hash: str, *args: Any, **kwargs: Any) -> Optional[bytes]:
        found = self.cache.store.get(hash)
        if found is None:
            return None
        engine, _metadata = found
        return bytes(engine)


def refit_mode_of(settings: Any) -> str:
    """graphcache refit mode for Torch-TensorRT CompilationSettings."""
    if getattr(settings, "immutable_weights", False):
        return "none"
    if getattr(settings, "refit_identical_engine_weights", False):
        return "refit_identical"
    return "refittable"


# --------------------------------------------------------------------------------------------------
def _fields(settings: Any) -> dict:
    if settings is None:
        return {}
    if dataclasses.is_dataclass(settings):
        return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    if isinstance(settings, Mapping):
        return dict(settings)
    return dict(vars(settings))


def _canonical(value: Any) -> str:
    """A process-independent string for a setting value (sets sorted, enums by name, no addresses)."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{_canonical(k)}:{_canonical(v)}" for k, v in value.items())) + "}"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return str(value)


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


def _toolchain() -> dict:
    tools = {}
    for module in ("torch", "torch_tensorrt", "tensorrt"):
        try:
            tools[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001
            pass
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(torch.cuda.current_device())
            tools["gpu"] = f"{props.name} sm_{props.major}{props.minor} {props.multi_processor_count}SM"
    except Exception:  # noqa: BLE001
        pass
    tools.setdefault("os", os.name)
    return tools
