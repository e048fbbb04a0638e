"""graphcache.export: torch.export.export with a cache, so a warm process start does not re-trace.

    ep = graphcache.export(model, (x,), cache="~/.cache/graphcache/exports")   # or cache=EngineCache(...)

The lookup key is the digest of the module state (export_state.py: module tree, non-tensor attributes,
parameter / buffer metadata, input specs, dynamic_shapes, export flags, global state). The entry found
there is served only if its code record (export_record.py: every source file that ran during tracing,
by content hash, plus the torch / Python / dependency versions) still matches; the program is then
rebuilt with the module's current parameters and buffers bound in (export_store.py, export_graph_load.py).
Anything else - no entry, a changed file, another torch, a corrupt or foreign entry - is a miss: the
module is exported with torch.export.export and the entry is (re)written.

Not cached (the export is still returned; ExportResult.reason says why): strict=True (Dynamo traces
bytecode without running it, so the recorder cannot see the code), programs with higher-order ops whose
bodies Dynamo traced (torch.cond, ...), code without a source file, values with no stable description,
custom-class constants. Force a miss with refresh=True, or by removing the entry
(`graphcache.export_cache.entry_key(...)` names it).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Union

from . import export_record, export_state, export_store

ExportCacheLike = Union[str, os.PathLike, Any]


@dataclass
class ExportResult:
    program: Any  # torch.export.ExportedProgram
    hit: bool
    key: Optional[str]  # the store key of the entry (None when the state could not be described)
    reason: str  # why it missed / was not cached ("" on a hit or a stored miss)
    stored: bool = False
    # seconds: state, lookup, check, bind, graph, program on a hit | export, store on a miss
    timings: Dict[str, float] = field(default_factory=dict)


def _store_of(cache: ExportCacheLike) -> Any:
    from .engine_cache import EngineCache

    if isinstance(cache, EngineCache):
        return cache.store
    if isinstance(cache, (str, os.PathLike)):
        return EngineCache(cache).store
    if hasattr(cache, "get") and hasattr(cache, "put"):  # a store object (LocalStore)
        return cache
    raise TypeError(f"graphcache.export: cache must be an EngineCache, a store or a directory, not {type(cache)!r}")


def entry_key(module: Any, args: Any, kwargs: Any = None, dynamic_shapes: Any = None, strict: bool = False) -> str:
    """The store key of this export's entry (64 hex digits)."""
    description = export_state.describe(module, tuple(args), kwargs, dynamic_shapes, strict)
    return _key_of(export_state.digest(description))


def _key_of(state_digest: str) -> str:
    return hashlib.sha256((export_store.EXPORT_FORMAT + "\0" + state_digest).encode()).hexdigest()


def _dynamo_activity() -> int:
    """Frames Dynamo converted plus graphs it produced so far in this process (its own counters)."""
    from torch._dynamo.utils import counters

    return int(counters["frames"]["total"]) + int(counters["stats"]["unique_graphs"])


def export_cached(
    module: Any,
    args: Any,
    kwargs: Optional[Dict[str, Any]] = None,
    dynamic_shapes: Any = None,
    strict: bool = False,
    cache: ExportCacheLike = None,
    refresh: bool = False,
) -> ExportResult:
    """graphcache.export, returning the program with how it was obtained (hit, key, reason, timings)."""
    import torch

    if cache is None:
        raise TypeError("graphcache.export: pass cache= (an EngineCache or a cache directory)")
    args = tuple(args)
    timings: Dict[str, float] = {}
    store = _store_of(cache)

    start = time.perf_counter()
    key = None
    reason = ""
    try:
        if strict:
            raise export_state.NotDescribable("strict=True: Dynamo traces the code without running it, so the "
                                              "code record cannot see it")
        state_digest = export_state.digest(export_state.describe(module, args, kwargs, dynamic_shapes, strict))
        key = _key_of(state_digest)
    except export_state.NotDescribable as e:
        reason = f"not cacheable: {e}"
    timings["state"] = time.perf_counter() - start

    if key is not None and refresh:
        reason = "refresh=True"
    elif key is not None:
        program, reason = _try_hit(store, key, state_digest, module, (args, dict(kwargs or {})), timings)
        if program is not None:
            return ExportResult(program=program, hit=True, key=key, reason="", timings=timings)

    start = time.perf_counter()
    program = None
    record = None
    if key is not None:
        try:
            recorder = export_record.CodeRecorder()
            dynamo_before = _dynamo_activity()
            with recorder:
                program = torch.export.export(module, args, kwargs=kwargs, dynamic_shapes=dynamic_shapes,
                                              strict=strict)
            record = recorder.record()
            if _dynamo_activity() != dynamo_before:
                # torch.cond & co. trace their bodies with Dynamo, which reads bytecode without running it
                raise export_record.NotRecordable("Dynamo traced part of the module (torch.cond or another "
                                                  "higher-order op), which the code record cannot see")
        except export_record.NotRecordable as e:
            key, reason = None, f"not cacheable: {e}"
    if program is None:
        program = torch.export.export(module, args, kwargs=kwargs, dynamic_shapes=dynamic_shapes, strict=strict)
    timings["export"] = time.perf_counter() - start
    if key is None or record is None:
        return ExportResult(program=program, hit=False, key=key, reason=reason, timings=timings)

    start = time.perf_counter()
    stored = False
    try:
        payload = export_store.encode(program, module, state_digest, record)
        store.put(key, payload, {"extra": {"kind": "graphcache.export", "format": export_store.EXPORT_FORMAT}})
        stored = True
    except export_store.NotStorable as e:
        reason = f"not cacheable: {e}"
    except Exception as e:  # noqa: BLE001 - a cache that cannot store must not fail the export just paid for
        warnings.warn(f"graphcache.export: could not store the program: {e}", RuntimeWarning, stacklevel=2)
        reason = f"not stored: {e}"
    timings["store"] = time.perf_counter() - start
    return ExportResult(program=program, hit=False, key=key, reason=reason, stored=stored, timings=timings)


def _try_hit(store: Any, key: str, state_digest: str, module: Any, example_inputs: tuple,
             timings: Dict[str, float]):
    """(program, "") on a servable hit, else (None, why it missed). timings (s): lookup (store read), check
    (entry decode + digest + code record), bind (weights by name), graph (rebuild), program (its constructor)."""
    start = time.perf_counter()
    found = store.get(key)
    timings["lookup"] = time.perf_counter() - start
    if found is None:
        return None, "no entry"
    start = time.perf_counter()
    try:
        entry = export_store.decode(found[0])
        if entry.state != state_digest:
            raise export_store.EntryError("the entry was written for another module state")
        change = entry.record.first_change()
    except export_store.EntryError as e:
        change = f"unusable entry: {e}"
    else:
        change = None if change is None else f"code changed: {change}"
    timings["check"] = time.perf_counter() - start
    if change is not None:
        return None, change
    try:
        return export_store.load(entry, module, example_inputs, timings), ""
    except Exception as e:  # noqa: BLE001 - a stored program that cannot be rebuilt is a miss, re-exported
        return None, f"unusable entry: {type(e).__name__}: {e}"


def export(*args: Any, **kwargs: Any) -> Any:
    """torch.export.export(module, args, kwargs, dynamic_shapes=..., strict=...) through the export cache
    `cache` (an EngineCache, a LocalStore or a directory). Returns the ExportedProgram. Parameters: those of
    export_cached."""
    return export_cached(*args, **kwargs).program


export.__signature__ = inspect.signature(export_cached).replace(return_annotation=Any)  # type: ignore[attr-defined]
