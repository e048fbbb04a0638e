"""What user code in an fx graph runs, as a digest: the key's identity for `call_function` targets that do
not ship with torch (torch.fx.wrap'd functions) and for `call_module` leaf modules of non-torch classes.

A name alone does not identify code: editing a wrapped function's body keeps its name. The digest covers
the code objects (bytecode, constants incl. nested code, names), default arguments, closure cells and the
module globals the code reads, recursively for user functions and classes; torch / stdlib objects count
by qualified name (the toolchain part of the key versions them). A global or closure value that cannot be
identified (an arbitrary object, a tensor) is refused: give the function or class an attribute
`__graphcache_version__ = "<your version>"` to key it by qualified name + that string instead (you then
own bumping it when the code changes). Called from the C++ walk (python/src/targets.cpp).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import types
from typing import Any, Set

_LIBRARY_PREFIXES = ("torch", "builtins", "_operator", "operator", "math", "functools", "typing", "numpy")
_SIMPLE = (type(None), bool, int, float, complex, str, bytes)


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '') or ''}.{getattr(obj, '__qualname__', getattr(obj, '__name__', ''))}"


def _is_library(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".", 1)[0] in _LIBRARY_PREFIXES


def _refuse(what: str, owner: Any) -> None:
    from . import _core

    raise _core.UnsupportedError(
        f"graphcache: {_qualname(owner)} is user code that the key identifies by what it runs, but {what} "
        "cannot be identified; set `__graphcache_version__ = \"<version>\"` on the function / module class "
        "to key it by name + that version (bump it whenever the code changes), or inline it into the graph"
    )


class _Hasher:
    def __init__(self) -> None:
        self.h = hashlib.sha256(b"graphcache.user-code.v1\0")
        self.seen: Set[int] = set()

    def put(self, *parts: Any) -> None:
        for p in parts:
            self.h.update(repr(p).encode() + b"\0")

    def value(self, v: Any, owner: Any, depth: int = 0) -> None:
        if depth > 32:
            _refuse("a value nested deeper than 32 levels", owner)
        if isinstance(v, _SIMPLE):
            self.put(type(v).__name__, v)
        elif isinstance(v, (tuple, list, frozenset, set)):
            items = sorted(v, key=repr) if isinstance(v, (set, frozenset)) else v
            self.put(type(v).__name__, len(items))
            for x in items:
                self.value(x, owner, depth + 1)
        elif isinstance(v, dict):
            self.put("dict", len(v))
            for k, x in v.items():
                self.value(k, owner, depth + 1)
                self.value(x, owner, depth + 1)
        elif isinstance(v, types.CodeType):
            self.code(v, owner, depth + 1)
        elif isinstance(v, types.ModuleType):
            self.put("module", v.__name__)
        elif isinstance(v, enum.Enum):
            self.put("enum", _qualname(type(v)), v.name)
        elif isinstance(v, logging.Logger):  # log calls do not change what the code computes
            self.put("logger")
        elif isinstance(v, (types.FunctionType, type)):
            self.callable(v, depth + 1)
        elif isinstance(v, types.BuiltinFunctionType) or _is_library(v) and callable(v):
            self.put("library", _qualname(v))
        elif type(v).__module__.split(".", 1)[0] == "torch" and type(v).__name__ in ("dtype", "device", "Size"):
            self.put("torch", str(v))
        else:
            _refuse(f"the value {type(v).__module__}.{type(v).__qualname__} it reads", owner)

    def code(self, code: types.CodeType, owner: Any, depth: int) -> None:
        self.put("code", code.co_code, code.co_names, code.co_freevars, code.co_argcount, code.co_kwonlyargcount)
        self.put(code.co_flags)
        for const in code.co_consts:
            self.value(const, owner, depth + 1)

    def callable(self, fn: Any, depth: int = 0) -> None:
        version = getattr(fn, "__graphcache_version__", None)
        if version is not None:
            self.put("versioned", _qualname(fn), str(version))
            return
        if _is_library(fn):
            self.put("library", _qualname(fn))
            return
        if id(fn) in self.seen:  # recursion / mutual references: the name closes the cycle
            self.put("seen", _qualname(fn))
            return
        self.seen.add(id(fn))
        if isinstance(fn, type):
            self.put("class", _qualname(fn))
            for klass in fn.__mro__:
                if _is_library(klass) or klass is object:
                    self.put("base", _qualname(klass))
                    continue
                for name, member in sorted(vars(klass).items()):
                    member = getattr(member, "__func__", member)  # staticmethod / classmethod
                    if isinstance(member, property):
                        member = member.fget
                    if isinstance(member, types.FunctionType):
                        self.put("method", name)
                        self.callable(member, depth + 1)
                    elif not name.startswith("__") and isinstance(member, _SIMPLE + (tuple,)):
                        self.put("class_attr", name)
                        self.value(member, fn, depth + 1)
            return
        fn = getattr(fn, "__wrapped__", fn)  # functools.wraps / torch.fx.wrap keep the original here
        if not isinstance(fn, types.FunctionType):
            _refuse(f"a callable of type {type(fn).__qualname__}", fn)
        code = fn.__code__
        self.put("function", _qualname(fn))
        self.code(code, fn, depth)
        self.value(fn.__defaults__, fn, depth + 1)
        self.value(fn.__kwdefaults__, fn, depth + 1)
        for cell in fn.__closure__ or ():
            self.value(cell.cell_contents, fn, depth + 1)
        # Globals the code (and its nested code) reads; attribute names stay as text in co_names.
        for name in sorted(_names(code)):
            if name in fn.__globals__:
                self.put("global", name)
                self.value(fn.__globals__[name], fn, depth + 1)


def _names(code: types.CodeType) -> Set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def fingerprint(obj: Any) -> str:
    """Hex digest of what `obj` (a function or a class) runs; raises UnsupportedError if unidentifiable."""
    h = _Hasher()
    h.callable(obj)
    return h.h.hexdigest()[:32]


def tensor_bytes(tensor: Any) -> bytes:
    """A tensor's values as little-endian bytes in row-major order (the key's by-value constants)."""
    import torch

    t = tensor.detach().to("cpu").contiguous().reshape(-1)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.view(torch.uint8).numpy().tobytes()
