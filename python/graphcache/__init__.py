"""graphcache: sound, fast engine-cache keys for PyTorch graphs (and the store behind them).

    import graphcache
    info = graphcache.key(exported_program, settings={"precision": "fp16"})
    info.key            # 64 hex digits: structure + input specs + settings + toolchain, SHA-256
    info.parts          # {"structure", "input_specs", "settings", "toolchain": hex}
    info.weight_names   # weight names in canonical slot order (the refit / weight-slot map)
    graphcache.diff(model_a, model_b)   # why two models' keys differ ([] when the structure agrees)

key(model, example_inputs=None, settings=None, engine_relevant=None, toolchain=None, *, refit_mode=None,
    weight_fingerprint=None) -> KeyInfo
    model: torch.fx.GraphModule or torch.export.ExportedProgram. The graph is walked in C++ (graphcache._core)
        without reading weight bytes: op identities, every constant argument, edges in operand order,
        tensor dtypes/shapes (symbolic dims by canonical symbol), weight-slot dtypes/shapes, output order.
        Names of nodes, parameters and modules do not matter. See python/src/graph_converter.hpp for the
        exact mapping and what is refused (UnsupportedError) rather than keyed unsoundly.
    example_inputs: one entry per graph input, used where node.meta has no shape metadata (e.g. a plain
        symbolic_trace) and for dynamic ranges. Entries: a tensor (its dtype/shape; never its values);
        an object or dict with `min_shape`, `opt_shape`, `max_shape` (and optionally `dtype`), e.g.
        torch_tensorrt.Input - an optimization profile, hashed into the "input_specs" part; an object or
        dict with `shape` and `dtype`; or a non-tensor value (described as "not a tensor").
        A GraphModule without shape metadata and without example_inputs raises InvalidArgumentError:
        a key that ignores input shapes would serve engines built for other shapes.
    settings: {name: value} compile settings. Values are encoded as type-tagged JSON, so 1, "1" and 1.0
        differ. engine_relevant: the names that are hashed (default: all); the rest only travel along.
    toolchain: {name: str} compiler / hardware identity ("tensorrt": "10.3", "gpu": "sm_90"...); the
        installed torch version is always included as "torch" unless given.
    refit_mode: None (not keyed) or "refittable" / "refit_identical" / "none", keyed by the C++ key layer
        exactly as `graphcache key --refit-mode` keys it; the weight-bound modes need weight_fingerprint.
    weight_fingerprint: None, a hex digest, or a callable(weight names in slot order) -> hex digest
        (called once the graph is walked: one walk per key). Keyed as the weight-fingerprint key part.

diff(a, b, example_inputs_a=None, example_inputs_b=None) -> list[str]
    Human-readable lines explaining the first structural difference ([] when the structures agree).

LocalStore(path, max_bytes=None, max_entries=None, ...) - the C++ local disk store (see _core.LocalStore).

Errors: graphcache.Error and subclasses InvalidArgumentError / InvalidModelError (also ValueError),
UnsupportedError (also NotImplementedError), IoError, CorruptError, InternalError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from . import _core
from ._core import (
    CorruptError,
    Error,
    InternalError,
    InvalidArgumentError,
    InvalidModelError,
    IoError,
    UnsupportedError,
)

__all__ = [
    "KeyInfo",
    "key",
    "diff",
    "LocalStore",
    "EngineCache",
    "CacheResult",
    "BuildOutput",
    "export",
    "Error",
    "InvalidArgumentError",
    "InvalidModelError",
    "UnsupportedError",
    "IoError",
    "CorruptError",
    "InternalError",
]

__version__ = "0.1.0"


@dataclass(frozen=True)
class KeyInfo:
    key: str  # 64 lowercase hex digits
    parts: Dict[str, str]  # structure / input_specs / settings / toolchain -> hex
    weight_names: List[str]  # weight names in canonical slot order
    input_names: List[str]  # graph (user) inputs in calling order
    output_names: List[str]  # graph outputs in order ("<kind>:<target>" for export mutations)
    num_nodes: int = 0
    settings: Dict[str, str] = field(default_factory=dict)  # the encoded settings that were passed
    # Entry metadata of this key from the C++ key layer (key_parts, input/output names, weight_slots,
    # refit_mode, weight_fingerprint): what an entry stored under it records.
    metadata: Dict[str, Any] = field(default_factory=dict)


_json_str = json.encoder.encode_basestring_ascii  # json.dumps(str) with the default ensure_ascii


def _setting_text(value: Any) -> str:
    """Type-tagged, deterministic text of a setting value (1, "1", 1.0 and True all differ)."""
    if type(value) is str:  # the common case (Torch-TensorRT's settings arrive as strings): what
        return _json_str(value)  # json.dumps returns for a str, without building an encoder per call

    def tag(v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, (list, tuple)):
            return {"__" + type(v).__name__ + "__": [tag(x) for x in v]}
        if isinstance(v, (set, frozenset)):
            return {"__set__": sorted(json.dumps(tag(x), sort_keys=True) for x in v)}
        if isinstance(v, Mapping):
            return {"__dict__": sorted([json.dumps(tag(k), sort_keys=True), tag(x)] for k, x in v.items())}
        t = type(v)
        return {"__object__": f"{t.__module__}.{t.__qualname__}", "str": str(v)}

    return json.dumps(tag(value), sort_keys=True, allow_nan=True)


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _dims(shape: Any) -> Tuple:
    # SymInt dims (FakeTensor example inputs) become symbols; plain ints stay ints.
    return tuple(d if isinstance(d, int) else str(d) for d in shape)


def _describe_inputs(example_inputs: Any) -> Tuple[Optional[list], Optional[list]]:
    """example_inputs -> (input_types for _core, input_specs for _core)."""
    if example_inputs is None:
        return None, None
    if isinstance(example_inputs, Mapping) or not isinstance(example_inputs, Iterable):
        raise InvalidArgumentError("example_inputs must be a sequence with one entry per graph input")
    import torch

    types: list = []
    specs: list = []
    for i, item in enumerate(example_inputs):
        if isinstance(item, torch.Tensor):
            types.append((item.dtype, _dims(item.shape)))
            continue
        lo, opt, hi = _get(item, "min_shape"), _get(item, "opt_shape"), _get(item, "max_shape")
        dtype = _get(item, "dtype")
        if dtype is not None and not isinstance(dtype, torch.dtype):
            to_torch = getattr(dtype, "to", None)  # torch_tensorrt.dtype -> torch.dtype
            dtype = to_torch(torch.dtype) if callable(to_torch) else None
        if lo is not None and hi is not None:
            opt = opt if opt is not None else hi
            lo, opt, hi = (tuple(int(d) for d in s) for s in (lo, opt, hi))
            specs.append((i, list(lo), list(opt), list(hi)))
            types.append((dtype, tuple(a if a == b else None for a, b in zip(lo, hi))))
            continue
        shape = _get(item, "shape")
        if shape is not None and not isinstance(item, (int, float, bool)):
            types.append((dtype, _dims(shape)))
            continue
        types.append((None, None))  # described, and not a tensor (int / float / None argument)
    return types, specs


def _example_layout(example_inputs: Any) -> Optional[str]:
    if example_inputs is None or isinstance(example_inputs, Mapping) or not isinstance(example_inputs, Iterable):
        return None
    import torch

    parts = []
    for item in example_inputs:
        if isinstance(item, torch.Tensor):
            contiguous = item.is_contiguous()
            parts.append(item.device.type + ("" if contiguous else ":" + str(tuple(item.stride()))))
        else:
            parts.append("-")
    return ";".join(parts)


def _request(settings, engine_relevant, toolchain):
    settings = dict(settings or {})
    relevant = None if engine_relevant is None else {str(n) for n in engine_relevant}
    encoded = {str(k): _setting_text(v) for k, v in settings.items()}
    setting_list = [(k, v, relevant is None or k in relevant) for k, v in encoded.items()]
    tools = {}
    try:
        import torch

        tools["torch"] = torch.__version__
    except ImportError:  # pragma: no cover - torch is needed to have a model at all
        pass
    for k, v in dict(toolchain or {}).items():
        tools[str(k)] = str(v)
    return setting_list, tools, encoded


def _is_exported_program(model: Any) -> bool:
    import torch

    return isinstance(model, torch.export.ExportedProgram)


def key(
    model: Any,
    example_inputs: Any = None,
    settings: Optional[Mapping[str, Any]] = None,
    engine_relevant: Optional[Iterable[str]] = None,
    toolchain: Optional[Mapping[str, str]] = None,
    *,
    refit_mode: Optional[str] = None,
    weight_fingerprint: Any = None,
) -> KeyInfo:
    """The engine-cache key of a GraphModule / ExportedProgram (see the module docstring)."""
    setting_list, tools, encoded, types, specs, typed = _key_request(
        model, example_inputs, settings, engine_relevant, toolchain, refit_mode, weight_fingerprint
    )
    if _is_exported_program(model):
        r = _core.key_export(model, setting_list, tools, specs, **typed)
    else:
        r = _core.key_fx(model, setting_list, tools, types, specs, **typed)
    return KeyInfo(
        key=r["key"],
        parts=dict(r["parts"]),
        weight_names=list(r["weights"]),
        input_names=list(r["inputs"]),
        output_names=list(r["outputs"]),
        num_nodes=int(r["nodes"]),
        settings=encoded,
        metadata=dict(r["metadata"]),
    )


def _key_request(model, example_inputs, settings, engine_relevant, toolchain, refit_mode=None, weight_fingerprint=None):
    """What key() hands to _core: (settings list, toolchain, encoded settings, input types, input specs,
    typed keyword arguments: facts, refit_mode, weight_fingerprint). explain.py re-keys through it too."""
    setting_list, tools, encoded = _request(settings, engine_relevant, toolchain)
    types, specs = _describe_inputs(example_inputs)
    facts = []  # graph facts known here rather than in the C++ walk (ir::GraphFact, reserved names)
    if not _is_exported_program(model):
        layout = _example_layout(example_inputs)
        if layout is not None:
            # Device and strides of example tensors: what an engine built from this GraphModule assumes when
            # its placeholders carry no metadata (export records both in node.meta; keyed by the front end).
            facts.append(("graphcache.torch.example_layout", layout))
        pytree_info = getattr(getattr(getattr(model, "graph", None), "_codegen", None), "pytree_info", None)
        if pytree_info is not None:
            # ExportedProgram.module() and friends flatten their arguments / unflatten their outputs through
            # these specs (dict keys in order, namedtuple types): part of the calling convention.
            facts.append(("graphcache.fx.pytree_info", f"{pytree_info.in_spec} -> {pytree_info.out_spec}"))
    typed = dict(facts=facts, refit_mode=refit_mode, weight_fingerprint=weight_fingerprint)
    return setting_list, tools, encoded, types, specs, typed


def diff(a: Any, b: Any, example_inputs_a: Any = None, example_inputs_b: Any = None) -> List[str]:
    """Why the structural keys of two models differ, as readable lines ([] when they agree)."""
    return list(_core.diff(a, b, _describe_inputs(example_inputs_a)[0], _describe_inputs(example_inputs_b)[0]))


def __getattr__(name: str) -> Any:
    # The store binding exists once the C++ store library is built in; import it lazily so that a
    # build without it still offers keys.
    if name == "LocalStore":
        if hasattr(_core, "LocalStore"):
            return _core.LocalStore
        raise AttributeError("graphcache was built without the local store (graphcache_store target)")
    if name == "export":  # torch.export.export through the export cache (export_cache.py)
        from .export_cache import export

        return export
    if name in ("EngineCache", "CacheResult", "BuildOutput"):
        from . import engine_cache

        return getattr(engine_cache, name)
    raise AttributeError(f"module 'graphcache' has no attribute {name!r}")
