"""EngineCache: get-or-build of compiled engines over the C++ store, keyed by graphcache's structural key.

A hit returns the cached engine together with a weight-slot map (current graph's weight name -> the
cached engine's weight name, matched by canonical slot index), so an isomorphic graph whose parameters
were renamed can refit the cached engine.

Refit modes (an engine-relevant key setting, recorded in the entry's metadata):
  "refittable"       weights can be replaced after load; the key ignores weight values.
  "refit_identical"  built for identical refit (TensorRT REFIT_IDENTICAL / weight-stripped identical);
  "none"             weights baked in.
For the last two the weight fingerprint is bound into the key, and a hit whose stored fingerprint differs
from the current weights is never served (it is treated as a miss and rebuilt), because refitting such an
engine with different weights silently gives wrong results.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from . import explain as _explain
from . import weight_access as _weights

REFIT_MODES = ("refittable", "refit_identical", "none")
# Refit modes whose engines carry (or are only valid for) one set of weight values.
WEIGHT_BOUND_MODES = frozenset({"refit_identical", "none"})

# Reserved setting names under which the C++ key layer keys these facts (src/key/reserved_settings.cpp);
# CacheKeyInfo.settings reports them under the same names.
REFIT_MODE_SETTING = "graphcache.refit_mode"
WEIGHT_FINGERPRINT_SETTING = "graphcache.weight_fingerprint"

EngineLike = Union[bytes, bytearray, memoryview, str, os.PathLike]


@dataclass
class BuildOutput:
    """What a build_fn may return instead of bare engine bytes / a path.

    weight_slots: the engine's own weight names in canonical slot order (defaults to the key's
    weight_names, i.e. the engine uses the graph's names). extra: small caller-defined metadata strings.
    """

    engine: EngineLike
    weight_slots: Optional[Sequence[str]] = None
    input_names: Optional[Sequence[str]] = None
    output_names: Optional[Sequence[str]] = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass
class CacheKeyInfo:
    """A graphcache KeyInfo plus what EngineCache added to it (refit mode, the settings hashed)."""

    info: Any
    refit_mode: str
    settings: dict
    # (example_inputs, settings, engine_relevant, toolchain) as given to key(): what explain() re-keys, with
    # refit_mode and the weight fingerprint already in `info`.
    request: Optional[tuple] = None

    key = property(lambda self: self.info.key)
    parts = property(lambda self: self.info.parts)
    weight_names = property(lambda self: self.info.weight_names)
    input_names = property(lambda self: self.info.input_names)
    output_names = property(lambda self: self.info.output_names)


@dataclass
class CacheResult:
    engine: Any  # bytes-like (hit: the store's buffer; miss: what build_fn returned) or a path
    metadata: dict
    weight_slot_map: dict  # current weight name -> cached engine's weight name
    hit: bool
    refit_needed: bool
    key: str
    build_seconds: float = 0.0  # time spent in build_fn (0 on a hit)


def _core():
    from . import _core  # the C++ extension, built from src/python

    return _core


class EngineCache:
    """Engine cache over graphcache's local store.

    Builds are single-flight across processes (and hosts, with a writable remote): see python/README.md.

    >>> cache = EngineCache("/tmp/engines", max_bytes=10 << 30)
    >>> r = cache.get_or_build(exported_program, build_fn, example_inputs=(x,),
    ...                        settings={"precision": "fp16"}, refit_mode="refittable")
    """

    def __init__(
        self,
        path: Union[str, os.PathLike],
        max_bytes: Optional[int] = None,
        max_entries: Optional[int] = None,
        store: Any = None,
        toolchain: Optional[Mapping[str, str]] = None,
        remote: Optional[str] = None,
        remote_read_only: bool = False,
        build_wait_seconds: float = 1800.0,
        secure_fingerprint: bool = False,
        signing_key: Optional[Union[str, os.PathLike]] = None,
        trusted_keys: Optional[Sequence[Union[str, os.PathLike]]] = None,
        require_signature: Optional[bool] = None,
        min_compile_seconds: float = 0.0,
    ) -> None:
        path = os.path.expanduser(os.fspath(path))  # "~/engines" is $HOME/engines, as in a shell
        if store is None:
            kwargs = {}
            if remote is not None:  # shared Redis tier behind the local one
                kwargs["remote"] = str(remote)
                kwargs["remote_read_only"] = bool(remote_read_only)
            if max_bytes is not None:
                kwargs["max_bytes"] = int(max_bytes)
            if max_entries is not None:
                kwargs["max_entries"] = int(max_entries)
            # Signed entries (README "Signed entries"): None falls through to GRAPHCACHE_SIGNING_KEY /
            # GRAPHCACHE_TRUSTED_KEYS / GRAPHCACHE_REQUIRE_SIGNATURE and the config file.
            for name, value in (("signing_key", signing_key), ("trusted_keys", trusted_keys),
                                ("require_signature", require_signature)):
                if value is not None:
                    kwargs[name] = value
            store = _core().LocalStore(os.fspath(path), **kwargs)
        self.store = store
        self.build_wait_seconds = float(build_wait_seconds)
        # SHA-256 weight chunks instead of XXH3 (a cache shared across trust boundaries): another
        # fingerprint, so weight-bound keys differ from the fast mode's.
        self.secure_fingerprint = bool(secure_fingerprint)
        self.path = os.fspath(path)
        self.toolchain = dict(toolchain or {})
        # explain() reads the remote tier's index too: the argument, else what the store resolved (env, file).
        self.remote = str(remote) if remote is not None else getattr(store, "remote", None)
        # Builds faster than this are not stored (not worth an entry); 0 stores every build.
        self.min_compile_seconds = float(min_compile_seconds)

    # ----------------------------------------------------------------------------------------------
    def key(
        self,
        model: Any,
        example_inputs: Any = None,
        settings: Optional[Mapping[str, Any]] = None,
        engine_relevant: Optional[Sequence[str]] = None,
        toolchain: Optional[Mapping[str, str]] = None,
        refit_mode: str = "refittable",
        weights: Optional[Mapping[str, Any]] = None,
    ):
        """graphcache.key() with the refit mode (and, for weight-bound modes, the weight fingerprint) keyed
        by the C++ key layer, as `graphcache key --refit-mode` keys them. One graph walk."""
        import graphcache

        if refit_mode not in REFIT_MODES:
            raise ValueError(f"graphcache: unknown refit mode {refit_mode!r}; expected one of {REFIT_MODES}")
        fingerprint = None
        if refit_mode in WEIGHT_BOUND_MODES:
            # The weights are part of what was compiled: bind their fingerprint into the key. It needs the
            # canonical slot order, which the walk computes: the key layer calls back after the walk.
            def fingerprint(weight_names):
                return _weights.fingerprint(model, weight_names, weights, secure=self.secure_fingerprint)

        tools = {**self.toolchain, **dict(toolchain or {})}
        info = graphcache.key(
            model,
            example_inputs=example_inputs,
            settings=settings,
            engine_relevant=engine_relevant,
            toolchain=tools,
            refit_mode=refit_mode,
            weight_fingerprint=fingerprint,
        )
        all_settings = {str(k): v for k, v in (settings or {}).items()}
        all_settings[REFIT_MODE_SETTING] = refit_mode
        if info.metadata.get("weight_fingerprint"):
            all_settings[WEIGHT_FINGERPRINT_SETTING] = info.metadata["weight_fingerprint"]
        request = (example_inputs, settings, engine_relevant, tools)
        return CacheKeyInfo(info=info, refit_mode=refit_mode, settings=all_settings, request=request)

    def explain(
        self,
        model: Any,
        example_inputs: Any = None,
        settings: Optional[Mapping[str, Any]] = None,
        engine_relevant: Optional[Sequence[str]] = None,
        toolchain: Optional[Mapping[str, str]] = None,
        refit_mode: str = "refittable",
        weights: Optional[Mapping[str, Any]] = None,
    ):
        """Hit, or the nearest cached entries and what differs (graphcache.explain.Explanation).
        Same arguments as key()."""
        info = self.key(model, example_inputs, settings, engine_relevant, toolchain, refit_mode, weights)
        return _explain.explain(self, model, info)

    # ----------------------------------------------------------------------------------------------
    def get_or_build(
        self,
        model_or_keyinfo: Any,
        build_fn: Callable[[Any], Union[EngineLike, BuildOutput]],
        *,
        example_inputs: Any = None,
        settings: Optional[Mapping[str, Any]] = None,
        engine_relevant: Optional[Sequence[str]] = None,
        toolchain: Optional[Mapping[str, str]] = None,
        refit_mode: str = "refittable",
        weights: Optional[Mapping[str, Any]] = None,
        model: Any = None,
        tool_versions: Optional[Mapping[str, str]] = None,
    ) -> CacheResult:
        """Returns the cached engine for this model/key, or calls build_fn(keyinfo) and stores its result.

        model_or_keyinfo: a torch.fx.GraphModule / torch.export.ExportedProgram, or a KeyInfo from
        EngineCache.key() (then pass `model=` too if weight fingerprints should be compared).
        weights: optional {weight name: tensor} overriding the model's own (e.g. new weights to refit).
        """
        if isinstance(model_or_keyinfo, CacheKeyInfo):
            info = model_or_keyinfo
            refit_mode = info.refit_mode
        elif _is_keyinfo(model_or_keyinfo):
            info = model_or_keyinfo
        else:
            model = model_or_keyinfo
            info = self.key(model, example_inputs, settings, engine_relevant, toolchain, refit_mode, weights)
        if refit_mode not in REFIT_MODES:
            raise ValueError(f"graphcache: unknown refit mode {refit_mode!r}; expected one of {REFIT_MODES}")
        key_hex = _key_hex(info)

        current_fp = info.settings.get(WEIGHT_FINGERPRINT_SETTING) if isinstance(info, CacheKeyInfo) else None
        if current_fp is None and (model is not None or weights is not None):
            if refit_mode in WEIGHT_BOUND_MODES or _weights.has_native_fingerprint():
                current_fp = _weights.fingerprint(model, info.weight_names, weights, secure=self.secure_fingerprint)
        if current_fp is None and refit_mode in WEIGHT_BOUND_MODES:
            raise ValueError(
                f"graphcache: refit mode {refit_mode!r} binds the weights into the key: pass the model "
                "(or weights=) so their fingerprint can be computed"
            )

        result = self._lookup(info, key_hex, refit_mode, current_fp)
        if result is not None:
            return result
        if model is not None and isinstance(info, CacheKeyInfo) and _explain.logger.isEnabledFor(logging.INFO):
            try:
                _explain.logger.info("graphcache: %s", _explain.explain(self, model, info))
            except Exception as e:  # noqa: BLE001 - an explanation must never fail the build
                _explain.logger.warning("graphcache: cannot explain the miss of %s: %s", key_hex[:16], e)
        # Single flight: processes (and, with a writable remote, hosts) that miss the same key at once
        # build it once; the others wait here and then take the stored engine.
        lock = self._build_lock(key_hex)
        try:
            if lock is not None:  # the re-check under the lock is part of the same lookup: no second event
                result = self._lookup(info, key_hex, refit_mode, current_fp, event=False)
                if result is not None:
                    return result
            return self._build_and_put(info, key_hex, build_fn, refit_mode, current_fp, tool_versions, model)
        finally:
            if lock is not None:
                lock.release()

    def _build_lock(self, key_hex: str):
        acquire = getattr(self.store, "build_lock", None)  # a custom store= may not offer locks
        if acquire is None:
            return None
        lock = acquire(key_hex, self.build_wait_seconds)
        if lock is None:
            _warn(
                f"graphcache: waited {self.build_wait_seconds:.0f} s for another build of {key_hex[:16]}; "
                "building here too"
            )
        return lock

    def lookup(self, info: "CacheKeyInfo", model: Any = None, weights: Optional[Mapping[str, Any]] = None):
        """The servable cached entry for a key from EngineCache.key(), or None. Never builds."""
        current_fp = info.settings.get(WEIGHT_FINGERPRINT_SETTING)
        if current_fp is None and (model is not None or weights is not None) and _weights.has_native_fingerprint():
            current_fp = _weights.fingerprint(model, info.weight_names, weights, secure=self.secure_fingerprint)
        return self._lookup(info, _key_hex(info), info.refit_mode, current_fp)

    def _lookup(self, info, key_hex, refit_mode, current_fp, event=True) -> Optional[CacheResult]:
        start = time.perf_counter()
        found = self.store.get(key_hex)
        tier = "layered" if self.remote else "local"
        if found is None:
            if event:
                _explain.event("miss", key_hex, tier, seconds=time.perf_counter() - start)
            return None
        engine, metadata = found
        if event:
            _explain.event("hit", key_hex, tier, memoryview(engine).nbytes, time.perf_counter() - start)
        result = self._serve_hit(info, key_hex, engine, dict(metadata), refit_mode, current_fp)
        if result is None:
            # Not servable (a weight-bound engine for other weights, or a slot mismatch): drop it so
            # the rebuilt engine replaces it.
            self.store.remove(key_hex)
        return result

    # ----------------------------------------------------------------------------------------------
    def _serve_hit(self, info, key_hex, engine, metadata, refit_mode, current_fp) -> Optional[CacheResult]:
        stored_mode = metadata.get("refit_mode", "")
        if stored_mode != refit_mode:
            _warn(f"graphcache: entry {key_hex[:16]} has refit mode {stored_mode!r}, wanted {refit_mode!r}")
            return None
        cached_slots = list(metadata.get("weight_slots") or [])
        current = list(info.weight_names)
        if len(cached_slots) != len(current):
            _warn(
                f"graphcache: entry {key_hex[:16]} has {len(cached_slots)} weight slots, graph has "
                f"{len(current)}; rebuilding"
            )
            return None
        stored_fp = _fp_hex(metadata.get("weight_fingerprint"))
        if refit_mode in WEIGHT_BOUND_MODES:
            # Never refit (or run) a weight-bound engine with weights other than its own.
            if current_fp is None or stored_fp is None or stored_fp != current_fp:
                _warn(
                    f"graphcache: entry {key_hex[:16]} was built {refit_mode} for other weights; "
                    "it is not served"
                )
                return None
            refit_needed = False
        else:
            refit_needed = not (current_fp is not None and stored_fp is not None and stored_fp == current_fp)
        return CacheResult(
            engine=engine,
            metadata=metadata,
            weight_slot_map=dict(zip(current, cached_slots)),
            hit=True,
            refit_needed=refit_needed,
            key=key_hex,
        )

    def _build_and_put(self, info, key_hex, build_fn, refit_mode, current_fp, tool_versions, model=None) -> CacheResult:
        start = time.perf_counter()
        built = build_fn(info)
        build_seconds = time.perf_counter() - start
        if not isinstance(built, BuildOutput):
            built = BuildOutput(engine=built)
        weight_slots = list(built.weight_slots) if built.weight_slots is not None else list(info.weight_names)
        if len(weight_slots) != len(info.weight_names):
            raise ValueError(
                f"graphcache: build_fn reported {len(weight_slots)} weight slots, the graph has "
                f"{len(info.weight_names)}"
            )
        # What the key layer says an entry under this key records (key_metadata.hpp), with what the build
        # reported about the engine's own names.
        metadata = dict(_key_metadata(info))
        metadata.update(
            {
                "input_names": list(built.input_names if built.input_names is not None else info.input_names),
                "output_names": list(built.output_names if built.output_names is not None else info.output_names),
                "weight_slots": weight_slots,
                "refit_mode": refit_mode,
                "tool_versions": {**_default_tool_versions(), **dict(tool_versions or {})},
                "extra": {str(k): str(v) for k, v in built.extra.items()},
                "created_unix": int(time.time()),
            }
        )
        if current_fp is not None:
            metadata["weight_fingerprint"] = current_fp
        elif metadata.get("weight_fingerprint") is None:
            metadata.pop("weight_fingerprint", None)
        engine = built.engine
        payload = os.fspath(engine) if isinstance(engine, (str, os.PathLike)) else engine
        if build_seconds < self.min_compile_seconds:
            _explain.logger.info(
                "graphcache: not storing %s: built in %.3f s, under min_compile_seconds", key_hex[:16], build_seconds
            )
            payload = None
        elif model is not None:
            try:  # the key factors, so that later misses can be explained against this entry
                metadata["extra"].update(_explain.entry_fields(model, info, key_hex, type(model).__name__) or {})
            except Exception as e:  # noqa: BLE001 - a missing explanation must never lose the engine
                _explain.logger.warning("graphcache: no key factors recorded for %s: %s", key_hex[:16], e)
        try:
            if payload is not None:
                start = time.perf_counter()
                self.store.put(key_hex, payload, metadata)
                size = os.path.getsize(payload) if isinstance(payload, str) else memoryview(payload).nbytes
                _explain.event("put", key_hex, "layered" if self.remote else "local", size, time.perf_counter() - start)
        except (_core().IoError, OSError) as e:
            # Like the C++ single-flight path: a cache that cannot store (disk full, read-only, remote
            # down) must not fail the build it has just paid for. The next call builds again.
            _warn(f"graphcache: could not store the engine for {key_hex}: {e}; returning the built engine")
        return CacheResult(
            engine=engine,
            metadata=metadata,
            weight_slot_map={n: n2 for n, n2 in zip(info.weight_names, weight_slots)},
            hit=False,
            refit_needed=False,
            key=key_hex,
            build_seconds=build_seconds,
        )

    def stats(self):
        return self.store.stats()


# --------------------------------------------------------------------------------------------------
def _is_keyinfo(obj: Any) -> bool:
    return hasattr(obj, "key") and hasattr(obj, "weight_names") and not callable(getattr(obj, "key"))


def _key_metadata(info: Any) -> dict:
    """The key layer's entry metadata of a key (KeyInfo.metadata); from its parts for other key objects."""
    inner = getattr(info, "info", info)
    metadata = dict(getattr(inner, "metadata", None) or {})
    if not metadata:
        metadata["key_parts"] = {str(k): str(v) for k, v in dict(getattr(info, "parts", {}) or {}).items()}
    return metadata


def _key_hex(info: Any) -> str:
    k = info.key
    return k if isinstance(k, str) else k.hex()


def _fp_hex(value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else bytes(value).hex()


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _default_tool_versions() -> dict:
    versions = {}
    try:
        import torch

        versions["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        from importlib.metadata import version

        versions["graphcache"] = version("graphcache")
    except Exception:  # noqa: BLE001 - not installed as a distribution (source tree)
        pass
    return versions
