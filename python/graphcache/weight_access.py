"""Finding a model's weight tensors by the names graphcache.key() reports, and fingerprinting them.

KeyInfo.weight_names lists weights in canonical slot order. For a torch.fx.GraphModule they are get_attr
targets (qualified attribute names); for a torch.export.ExportedProgram they may be placeholder names
(p_fc1_weight) or state-dict FQNs (fc1.weight): both are resolved here through the graph signature.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Mapping, Optional, Sequence

# Domain string of the Python fallback fingerprint (64 hex digits like the native one, never equal to it).
FALLBACK_DOMAIN = b"graphcache.python-weights.v1/sha-256\0"


def _is_exported_program(model: Any) -> bool:
    return hasattr(model, "graph_signature") and hasattr(model, "state_dict")


def placeholder_to_fqn(model: Any) -> Dict[str, str]:
    """For an ExportedProgram: placeholder name -> parameter / buffer / constant FQN. Empty otherwise."""
    if not _is_exported_program(model):
        return {}
    sig = model.graph_signature
    table: Dict[str, str] = {}
    for mapping in (sig.inputs_to_parameters, sig.inputs_to_buffers, sig.inputs_to_lifted_tensor_constants):
        table.update(mapping)
    return table


def fqn_names(model: Any, weight_names: Sequence[str]) -> List[str]:
    """weight_names as state-dict FQNs (what AOTInductor's get_constant_fqns() and load_constants use)."""
    table = placeholder_to_fqn(model)
    return [table.get(name, name) for name in weight_names]


def named_tensors(model: Any) -> Dict[str, Any]:
    """Every weight-like tensor of the model by FQN (and, for ExportedProgram, by placeholder name)."""
    tensors: Dict[str, Any] = {}
    if _is_exported_program(model):
        tensors.update(model.state_dict)
        tensors.update(getattr(model, "constants", {}) or {})
        for placeholder, fqn in placeholder_to_fqn(model).items():
            if fqn in tensors:
                tensors[placeholder] = tensors[fqn]
        return tensors
    if hasattr(model, "named_parameters"):
        tensors.update(dict(model.named_parameters(remove_duplicate=False)))
        tensors.update(dict(model.named_buffers(remove_duplicate=False)))
    graph = getattr(model, "graph", None)
    if graph is not None:
        for node in graph.nodes:
            if node.op == "get_attr" and node.target not in tensors:
                value = qualified_attr(model, node.target)
                if value is not None:
                    tensors[node.target] = value
    return tensors


def resolve(model: Any, weight_names: Sequence[str], overrides: Optional[Mapping[str, Any]] = None) -> List[Any]:
    """The tensors for weight_names, in that order; `overrides` (by either name form) wins."""
    table = named_tensors(model) if model is not None else {}
    if overrides:
        table.update(overrides)
    to_fqn = placeholder_to_fqn(model) if model is not None else {}
    out = []
    for name in weight_names:
        tensor = table.get(name)
        if tensor is None and name in to_fqn:
            tensor = table.get(to_fqn[name])
        if tensor is None:
            raise KeyError(f"graphcache: no tensor for weight {name!r} in the model or the given weights")
        out.append(tensor)
    return out


def has_native_fingerprint() -> bool:
    return _native_fingerprint_fn() is not None


def fingerprint(model: Any, weight_names: Sequence[str], overrides: Optional[Mapping[str, Any]] = None,
                secure: bool = False) -> str:
    """Weight fingerprint in canonical slot order: the native one when the extension has it, else
    SHA-256 over (dtype, shape, bytes) of each slot. Reads every weight byte: used only where the
    weights' values matter (weight-bound refit modes, deciding whether a refit is needed). secure=True
    uses SHA-256 chunks (native "secure" mode, CPU tensors only) for caches shared across trust
    boundaries; the fallback is SHA-256 already."""
    tensors = resolve(model, weight_names, overrides)
    # Values in logical (row-major) order: a transposed weight is fingerprinted by what it holds.
    tensors = [t if t.is_contiguous() else t.detach().contiguous() for t in tensors]
    native = _native_fingerprint_fn()
    if native is not None:
        # The native fingerprint reads dense bytes in place: strided / non-contiguous tensors (a
        # transposed weight after constant folding) are hashed by their logical contents, i.e. as their
        # contiguous copy, so both give the same fingerprint.
        dense = [t.detach() if t.is_contiguous() else t.detach().contiguous() for t in tensors]

        def run(ts):
            return native(ts, secure=True) if secure else native(ts)

        try:
            value = run(dense)
        except Exception as e:  # noqa: BLE001
            if not _is_cuda_unsupported(e, dense):
                raise
            # CUDA tensors and an extension built without CUDA: the CPU path over host copies, one tensor
            # at a time on the host side of the copy (same digest: CPU and GPU paths agree by design).
            value = run([t.cpu() if t.device.type == "cuda" else t for t in dense])
        return value if isinstance(value, str) else value.hex()
    h = hashlib.sha256(FALLBACK_DOMAIN)
    for tensor in tensors:
        t = tensor.detach()
        h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
        flat = t.contiguous().reshape(-1)
        if flat.device.type != "cpu":
            flat = flat.cpu()
        h.update(memoryview(flat.view(_uint8()).numpy()))
    return h.hexdigest()


def _is_cuda_unsupported(error: Exception, tensors: Sequence[Any]) -> bool:
    text = str(error).lower()
    return any(t.device.type == "cuda" for t in tensors) and ("cuda" in text or "unsupported" in text)


def _native_fingerprint_fn():
    try:
        from . import _core
    except ImportError:
        return None
    return getattr(_core, "weight_fingerprint", None)


def _uint8():
    import torch

    return torch.uint8


def qualified_attr(root: Any, target: str) -> Any:
    """root.a.b.c for target "a.b.c"; None where a part is missing."""
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj
