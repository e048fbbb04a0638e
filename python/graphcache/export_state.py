"""The module-state part of an export-cache key: everything besides source code that tracing reads.

torch.export's result depends on the module tree (types, names, training flags, hooks), every non-tensor
attribute the code can read (configs, flags, sizes), the parameters' and buffers' names / shapes / dtypes /
strides / devices and which of them are tied, the inputs' pytree structure and tensor metadata (and the
values of non-tensor inputs, which tracing specializes on), dynamic_shapes, the export flags, and global
state (default dtype / device, grad and inference mode, autocast, torch function / dispatch modes, global
module hooks, the export / dynamo / fx configs). All of it is written as tagged JSON and hashed; the code
that reads it is covered by the code record (export_record.py).

A value that cannot be described stably across processes (an object whose only description is its
address) raises NotDescribable: such a module is exported but not cached.
"""

from __future__ import annotations

import collections
import enum
import functools
import hashlib
import json
import math
import types
from typing import Any, Dict, List

STATE_VERSION = 1
# Fields whose value differs from process to process for the same object, and that only restate fields
# described anyway: transformers' GenerationConfig._original_object_hash is hash() of its own JSON text,
# which Python salts per process - with it, no HF model's entry would ever be found by another process.
_PROCESS_SPECIFIC = frozenset({"_original_object_hash"})
_PLAIN = (type(None), int, str)
_EMPTY = {list: {"list": []}, tuple: {"tuple": []}, dict: {"dict": ["builtins.dict", []]},
          collections.OrderedDict: {"dict": ["collections.OrderedDict", []]}, set: {"set": []},
          frozenset: {"set": []}}
_MAX_DEPTH = 24


class NotDescribable(Exception):
    """Something tracing may read cannot be described stably: the export is not cached."""


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def _code_site(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return _qualname(fn)
    return f"{_qualname(fn)}@{code.co_filename}:{code.co_firstlineno}"


class _Describer:
    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.seen: Dict[int, int] = {}  # id(object) -> index of its first description (cycles, sharing)
        self.alive: List[Any] = []  # what `seen` refers to stays alive, so its ids are never reused
        self.active: set = set()  # ids of the containers being described (cycle check)

    def tensor(self, t: Any) -> list:
        torch = self.torch
        meta = [_qualname(type(t)), str(t.dtype), str(t.device), str(t.layout), list(t.shape),
                bool(t.requires_grad)]
        if t.layout == torch.strided:
            meta += [list(t.stride()), int(t.storage_offset())]
        return meta

    def value(self, v: Any, depth: int = 0) -> Any:
        kind = type(v)
        if kind in _PLAIN:  # the common cases first (every module has a dozen empty hook dicts)
            return v
        if kind is bool:
            return {"bool": v}
        if kind in _EMPTY and not v:
            return _EMPTY[kind]  # what container() writes for it
        torch = self.torch
        if depth > _MAX_DEPTH:
            raise NotDescribable(f"a value nested deeper than {_MAX_DEPTH} levels ({_qualname(type(v))})")
        if v is None or isinstance(v, (bool, int, str)):
            return v if not isinstance(v, bool) else {"bool": v}
        if isinstance(v, float):
            return {"float": repr(v)} if not math.isfinite(v) else {"float": v}
        if isinstance(v, (bytes, bytearray)):
            return {"bytes": hashlib.sha256(bytes(v)).hexdigest()}
        if isinstance(v, complex):
            return {"complex": repr(v)}
        if isinstance(v, torch.Tensor):
            return {"tensor": self.tensor(v)}
        if isinstance(v, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
            return {"torch": str(v)}
        if isinstance(v, enum.Enum):
            return {"enum": [_qualname(type(v)), v.name, self.value(v.value, depth + 1)]}
        if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, types.MethodWrapperType)):
            return {"function": _code_site(v)}
        if isinstance(v, types.MethodType):
            return {"method": [_code_site(v.__func__), self.ref_or(v.__self__, depth + 1)]}
        if isinstance(v, type):
            return {"class": _qualname(v)}
        if isinstance(v, types.ModuleType):
            return {"module": v.__name__}
        if isinstance(v, functools.partial):
            return {"partial": [self.value(v.func, depth + 1), self.value(list(v.args), depth + 1),
                                self.value(dict(v.keywords), depth + 1)]}
        if isinstance(v, torch.nn.Module):
            # A module held as a plain attribute (not a child): its type; its own state is described where
            # it is registered, or not read by tracing through this reference.
            return {"module_ref": self.ref_or(v, depth + 1)}
        return self.ref_or(v, depth)

    def ref_or(self, v: Any, depth: int) -> Any:
        """Containers by value (a cycle through them cannot be described); objects with fields once, later
        occurrences by reference (shared configs, cycles)."""
        torch = self.torch
        if isinstance(v, (list, tuple, set, frozenset, dict)):
            if id(v) in self.active:
                raise NotDescribable(f"a {type(v).__qualname__} that contains itself")
            self.active.add(id(v))
            try:
                return self.container(v, depth)
            finally:
                self.active.discard(id(v))
        if id(v) in self.seen:
            return {"ref": self.seen[id(v)]}
        self.alive.append(v)
        self.seen[id(v)] = len(self.seen)
        if isinstance(v, torch.nn.Module):
            return {"nn": _qualname(type(v))}
        return self.fields(v, depth)

    def container(self, v: Any, depth: int) -> Any:
        if isinstance(v, (list, tuple)):
            kind = type(v).__name__ if type(v) in (list, tuple) else _qualname(type(v))
            return {kind: [self.value(x, depth + 1) for x in v]}
        if isinstance(v, (set, frozenset)):
            items = [self.value(x, depth + 1) for x in v]
            return {"set": sorted(json.dumps(i, sort_keys=True) for i in items)}
        return {"dict": [_qualname(type(v)), [[self.value(k, depth + 1), self.value(x, depth + 1)]
                                              for k, x in v.items()]]}

    def fields(self, v: Any, depth: int) -> Any:
        fields = getattr(v, "__dict__", None)
        slots = [s for klass in type(v).__mro__ for s in getattr(klass, "__slots__", ()) if isinstance(s, str)]
        if fields is None and not slots:
            if callable(v) and hasattr(v, "__qualname__"):
                return {"callable": _qualname(v)}
            raise NotDescribable(f"a value of type {_qualname(type(v))} has no fields to describe it by")
        out = {"object": _qualname(type(v))}
        if fields is not None:
            items = sorted(fields.items(), key=lambda i: str(i[0]))
            out["fields"] = [[str(k), self.value(x, depth + 1)] for k, x in items if k not in _PROCESS_SPECIFIC]
        if slots:
            out["slots"] = [[s, self.value(getattr(v, s, "<unset>"), depth + 1)] for s in slots if s != "__dict__"]
        return out


def _module_tree(module: Any, d: _Describer) -> List[Any]:
    """Each module (duplicates included) with its type, attributes, parameters, buffers; ties by index."""
    torch = d.torch
    first_name: Dict[int, str] = {}
    out: List[Any] = []
    for prefix, mod in module.named_modules(remove_duplicate=False):
        entry: Dict[str, Any] = {"name": prefix, "type": _qualname(type(mod))}
        attrs = []
        for name, value in sorted(vars(mod).items()):
            if name in ("_parameters", "_buffers", "_modules"):
                continue
            if "hook" in name and isinstance(value, dict):
                value = list(value.values())  # keyed by process-global handle ids: only the hooks count
            attrs.append([name, d.value(value)])
        entry["attrs"] = attrs
        for kind in ("_parameters", "_buffers"):
            tensors = []
            for name, t in getattr(mod, kind).items():
                full = f"{prefix}.{name}" if prefix else name
                if t is None:
                    tensors.append([name, None])
                    continue
                tied = first_name.setdefault(id(t), full)
                tensors.append([name, d.tensor(t), tied if tied != full else None, _qualname(type(t))])
            entry[kind] = tensors
        entry["children"] = list(mod._modules.keys())
        if isinstance(mod, torch.fx.GraphModule):
            entry["fx_code"] = mod.code  # its forward is generated code without a file
        out.append(entry)
    return out


def _inputs(args: Any, kwargs: Any, dynamic_shapes: Any, d: _Describer) -> Dict[str, Any]:
    from torch.utils import _pytree as pytree

    leaves, spec = pytree.tree_flatten((args, kwargs))
    described = [{"tensor": d.tensor(x)} if isinstance(x, d.torch.Tensor) else d.value(x) for x in leaves]
    return {"spec": str(spec), "leaves": described, "dynamic_shapes": _dynamic_shapes(dynamic_shapes, d)}


def _dynamic_shapes(spec: Any, d: _Describer) -> Any:
    if spec is None or isinstance(spec, (int, str, bool)):
        return d.value(spec)
    if isinstance(spec, dict):
        return {"dict": [[d.value(k), _dynamic_shapes(v, d)] for k, v in spec.items()]}
    if isinstance(spec, (list, tuple)):
        return {type(spec).__name__: [_dynamic_shapes(v, d) for v in spec]}
    if isinstance(spec, type) or hasattr(spec, "__name__") and hasattr(spec, "min"):
        # torch.export.Dim (a class): its name and range
        return {"dim": [_qualname(type(spec)), getattr(spec, "__name__", None), d.value(getattr(spec, "min", None)),
                        d.value(getattr(spec, "max", None)), repr(spec)]}
    return {"other": [_qualname(type(spec)), repr(spec)]}


def _stable_text(v: Any) -> str:
    """repr(v), except that sets and dicts are written in sorted order and functions / classes by name:
    repr of a set of strings follows the process's string hash seed, so the same config would otherwise
    give another digest - and never a hit - in every new process."""
    if isinstance(v, (set, frozenset)):
        return "{" + ",".join(sorted(_stable_text(x) for x in v)) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(sorted(f"{_stable_text(k)}:{_stable_text(x)}" for k, x in v.items())) + "}"
    if isinstance(v, (list, tuple)):
        return type(v).__name__ + "(" + ",".join(_stable_text(x) for x in v) + ")"
    if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, type)):
        return _code_site(v)
    return repr(v)


def _config_digest(module_name: str) -> str:
    import importlib

    try:
        config = importlib.import_module(module_name)
    except ImportError:
        return "absent"
    portable = getattr(config, "save_config_portable", None)
    if portable is None:
        return "absent"
    return hashlib.sha256(_stable_text(portable()).encode()).hexdigest()


def global_state() -> Dict[str, Any]:
    """Process-wide state that changes what tracing produces."""
    import torch
    import torch.nn.modules.module as nn_module

    d = _Describer()
    state: Dict[str, Any] = {
        "default_dtype": str(torch.get_default_dtype()),
        "default_device": str(torch.get_default_device()) if hasattr(torch, "get_default_device") else "",
        "grad": torch.is_grad_enabled(),
        "inference_mode": torch.is_inference_mode_enabled(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "matmul_precision": torch.get_float32_matmul_precision(),
        "torch_function_modes": torch._C._len_torch_function_stack(),
        "dispatch_modes": torch._C._len_torch_dispatch_stack(),
    }
    for device in ("cpu", "cuda"):
        try:
            state[f"autocast.{device}"] = [torch.is_autocast_enabled(device), str(torch.get_autocast_dtype(device))]
        except (RuntimeError, TypeError, AttributeError):  # an autocast API this torch does not have
            pass
    for name in sorted(n for n in vars(nn_module) if n.startswith("_global_") and "hook" in n):
        value = getattr(nn_module, name)
        if isinstance(value, dict):
            state[name] = d.value(list(value.values()))
    for config in ("torch._export.config", "torch._dynamo.config", "torch.fx.experimental._config",
                   "torch._functorch.config"):
        state[config] = _config_digest(config)
    return state


def describe(module: Any, args: Any, kwargs: Any, dynamic_shapes: Any, strict: bool) -> Dict[str, Any]:
    """The whole state description (JSON-able); NotDescribable when part of it has no stable form."""
    d = _Describer()
    return {
        "version": STATE_VERSION,
        "flags": {"strict": bool(strict)},
        "module": _module_tree(module, d),
        "inputs": _inputs(args, kwargs or {}, dynamic_shapes, d),
        "global": global_state(),
    }


def digest(description: Dict[str, Any]) -> str:
    # Not sort_keys: the description is built in a fixed order (user dicts as lists of pairs, in their own
    # order, which tracing may follow), and sorting a description of hundreds of modules costs a hit time.
    text = json.dumps(description, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(b"graphcache.export.state\0" + text.encode()).hexdigest()
