"""A small versioned, pickle-free container for tuples of Python values (used for Torch-TensorRT's cache
entries: engine bytes, binding names, input specs, compilation settings, weight-name maps...).

Layout: MAGIC (8 bytes) | u64 little-endian header length | header (UTF-8 JSON) | payload bytes.
The header is {"version": 1, "values": [...], "blobs": [[offset, length], ...]}; large binary values
(bytes, tensor data) live in the payload and are referenced by blob index, so the engine is never
base64-encoded or copied through JSON.

Values are tagged JSON: plain JSON for None/bool/int/str/float, and {"$<tag>": ...} objects for bytes,
tuples, sets, non-string-keyed dicts, non-finite floats, torch dtypes/devices/tensors/operator overloads,
enums, dataclasses, plain objects and named functions/classes (by "module:qualname"). Any buffer-protocol
object (TensorRT's IHostMemory, numpy arrays, memoryview) is stored as bytes without an extra copy. Decoding never imports anything and never runs code from the data: classes are
looked up only among already-imported modules whose names start with one of `trusted_modules`; any
other class comes back as a `Record` holding its fields. Anything the encoder does not know raises
TypeError naming the type - there is no pickle fallback.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import struct
import sys
from types import SimpleNamespace
from typing import Any, List, Sequence, Tuple

MAGIC = b"GCBLOB1\n"
VERSION = 1
_LEN = struct.Struct("<Q")


class CodecError(ValueError):
    """The bytes are not a valid container of this format (wrong magic, version, truncated, malformed)."""


class Record(SimpleNamespace):
    """A decoded object whose class is not available / trusted: its fields as attributes, and the
    original "module:qualname" in `record_type`."""


def _record(type_name: str, fields: dict) -> Record:
    record = Record(**fields)
    object.__setattr__(record, "record_type", type_name)
    return record


# ------------------------------------------------------------------------------------------------ encode
def encode(values: Sequence[Any]) -> bytes:
    blobs: List[bytes] = []
    header = {"version": VERSION, "values": [_enc(v, blobs) for v in values]}
    offsets, pos = [], 0
    for blob in blobs:
        offsets.append([pos, len(blob)])
        pos += len(blob)
    header["blobs"] = offsets
    head = json.dumps(header, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    return b"".join([MAGIC, _LEN.pack(len(head)), head, *blobs])


def _enc(v: Any, blobs: List[bytes]) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, enum.Enum):  # before int: IntEnum is an int
        return {"$enum": _qualname(type(v)), "name": v.name}
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"$float": repr(v)}
    if isinstance(v, (bytes, bytearray, memoryview)):
        blobs.append(_flat_view(v))
        return {"$bytes": len(blobs) - 1}
    if isinstance(v, list):
        return [_enc(x, blobs) for x in v]
    if isinstance(v, tuple) and not hasattr(v, "_fields"):
        return {"$tuple": [_enc(x, blobs) for x in v]}
    if isinstance(v, (set, frozenset)):
        items = [_enc(x, blobs) for x in v]
        items.sort(key=lambda x: json.dumps(x, sort_keys=True))  # deterministic bytes
        return {"$set": items, "frozen": isinstance(v, frozenset)}
    if isinstance(v, dict):
        return {"$dict": [[_enc(k, blobs), _enc(x, blobs)] for k, x in v.items()]}
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(v, torch.dtype):
            return {"$torch_dtype": str(v).removeprefix("torch.")}
        if isinstance(v, torch.device):
            return {"$torch_device": str(v)}
        if isinstance(v, torch.Tensor):
            t = v.detach().contiguous().cpu()
            blobs.append(bytes(memoryview(t.reshape(-1).view(torch.uint8).numpy())))
            return {
                "$tensor": len(blobs) - 1,
                "dtype": str(t.dtype).removeprefix("torch."),
                "shape": list(t.shape),
                "device": str(v.device),
            }
    view = _buffer_of(v)  # any other buffer-protocol object (TensorRT's IHostMemory, numpy arrays)
    if view is not None:
        blobs.append(view)
        return {"$bytes": len(blobs) - 1}
    op_name = _op_overload_name(v, torch)
    if op_name is not None:
        return {"$torch_op": op_name}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        fields = {f.name: _enc(getattr(v, f.name), blobs) for f in dataclasses.fields(v)}
        return {"$dataclass": _qualname(type(v)), "fields": fields}
    if hasattr(v, "_fields"):  # namedtuple
        return {"$namedtuple": _qualname(type(v)), "fields": {k: _enc(getattr(v, k), blobs) for k in v._fields}}
    if hasattr(v, "__dict__") and not callable(v):
        state = {k: _enc(x, blobs) for k, x in vars(v).items()}
        return {"$object": _qualname(type(v)), "state": state}
    if callable(v) and stable_callable_name(v) is not None:  # by name, like pickle does for functions
        return {"$callable": stable_callable_name(v)}
    raise TypeError(f"graphcache: cannot serialize a {type(v).__module__}.{type(v).__qualname__} without pickle")


def _flat_view(v: Any) -> memoryview:
    view = memoryview(v)
    if not view.c_contiguous:
        return memoryview(view.tobytes())
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _buffer_of(v: Any) -> Any:
    """A flat byte view of a buffer-protocol object (no copy when it is contiguous), else None."""
    try:
        return _flat_view(v)
    except TypeError:
        return None


def _op_overload_name(v: Any, torch: Any) -> Any:
    """"namespace::op.overload" for a torch OpOverload ("namespace::op" for an OpOverloadPacket)."""
    if torch is None:
        return None
    ops = getattr(torch, "_ops", None)
    if ops is not None and isinstance(v, ops.OpOverload):
        return f"{v.namespace}::{v._opname}.{v._overloadname}"
    if ops is not None and isinstance(v, ops.OpOverloadPacket):
        ns, _, name = v._qualified_op_name.partition("::")
        return f"{ns}::{name}"
    return None


def stable_callable_name(fn: Any) -> Any:
    """"module:qualname" for a function or class reachable by that name (the same in every process);
    None for lambdas, local functions and objects without a qualified name."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def _qualname(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


# ------------------------------------------------------------------------------------------------ decode
def decode(data: Any, trusted_modules: Sequence[str] = ()) -> Tuple[Any, ...]:
    view = memoryview(data).cast("B")
    if len(view) < len(MAGIC) + _LEN.size or bytes(view[: len(MAGIC)]) != MAGIC:
        raise CodecError("graphcache: not a graphcache blob (bad magic)")
    (head_len,) = _LEN.unpack_from(view, len(MAGIC))
    head_start = len(MAGIC) + _LEN.size
    if head_start + head_len > len(view):
        raise CodecError("graphcache: blob header is truncated")
    try:
        header = json.loads(bytes(view[head_start : head_start + head_len]))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CodecError(f"graphcache: blob header is not valid JSON: {e}") from None
    if not isinstance(header, dict) or header.get("version") != VERSION:
        raise CodecError(f"graphcache: unsupported blob version {header.get('version') if isinstance(header, dict) else '?'}")
    payload = view[head_start + head_len :]
    blobs = []
    for entry in header.get("blobs", []):
        off, length = int(entry[0]), int(entry[1])
        if off < 0 or length < 0 or off + length > len(payload):
            raise CodecError("graphcache: blob payload is truncated")
        blobs.append(payload[off : off + length])
    dec = _Decoder(blobs, tuple(trusted_modules))
    try:
        return tuple(dec.value(v) for v in header["values"])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise CodecError(f"graphcache: malformed blob value: {e!r}") from None


class _Decoder:
    def __init__(self, blobs: List[memoryview], trusted: Tuple[str, ...]) -> None:
        self.blobs = blobs
        self.trusted = trusted

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            raise ValueError(f"unexpected {type(v).__name__}")
        tag = next(k for k in v if k.startswith("$"))
        return getattr(self, "_" + tag[1:])(v)

    def _bytes(self, v: dict) -> bytes:
        return bytes(self.blobs[v["$bytes"]])

    def _float(self, v: dict) -> float:
        return float(v["$float"])

    def _tuple(self, v: dict) -> tuple:
        return tuple(self.value(x) for x in v["$tuple"])

    def _set(self, v: dict) -> Any:
        items = [self.value(x) for x in v["$set"]]
        return frozenset(items) if v.get("frozen") else set(items)

    def _dict(self, v: dict) -> dict:
        return {self.value(k): self.value(x) for k, x in v["$dict"]}

    def _torch_dtype(self, v: dict) -> Any:
        import torch

        dtype = getattr(torch, v["$torch_dtype"], None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown torch dtype {v['$torch_dtype']!r}")
        return dtype

    def _torch_device(self, v: dict) -> Any:
        import torch

        return torch.device(v["$torch_device"])

    def _tensor(self, v: dict) -> Any:
        import torch

        dtype = self._torch_dtype({"$torch_dtype": v["dtype"]})
        raw = bytearray(self.blobs[v["$tensor"]])  # writable copy: torch.frombuffer wants one
        flat = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        tensor = flat.view(dtype).reshape(v["shape"])
        device = v.get("device", "cpu")
        return tensor if device == "cpu" else tensor.to(device)

    def _torch_op(self, v: dict) -> Any:
        import torch

        name = v["$torch_op"]
        ns, _, rest = name.partition("::")
        op_name, _, overload = rest.partition(".")
        packet = getattr(getattr(torch.ops, ns), op_name)  # registered ops only; imports nothing
        return getattr(packet, overload) if overload else packet

    def _callable(self, v: dict) -> Any:
        module_name, _, qualname = v["$callable"].partition(":")
        obj = None
        if any(module_name == t or module_name.startswith(t + ".") for t in self.trusted):
            obj = sys.modules.get(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part, None) if obj is not None else None
        return obj if callable(obj) else _record(v["$callable"], {})

    def _enum(self, v: dict) -> Any:
        cls = self._class(v["$enum"])
        if cls is not None and issubclass(cls, enum.Enum):
            return cls[v["name"]]
        return _record(v["$enum"], {"name": v["name"]})

    def _dataclass(self, v: dict) -> Any:
        fields = {k: self.value(x) for k, x in v["fields"].items()}
        cls = self._class(v["$dataclass"])
        if cls is not None and dataclasses.is_dataclass(cls):
            init = {f.name for f in dataclasses.fields(cls) if f.init}
            obj = cls(**{k: x for k, x in fields.items() if k in init})
            for k, x in fields.items():
                if k not in init:
                    object.__setattr__(obj, k, x)
            return obj
        return _record(v["$dataclass"], fields)

    def _namedtuple(self, v: dict) -> Any:
        fields = {k: self.value(x) for k, x in v["fields"].items()}
        cls = self._class(v["$namedtuple"])
        return cls(**fields) if cls is not None else _record(v["$namedtuple"], fields)

    def _object(self, v: dict) -> Any:
        state = {k: self.value(x) for k, x in v["state"].items()}
        cls = self._class(v["$object"])
        if cls is None:
            return _record(v["$object"], state)
        obj = cls.__new__(cls)  # no __init__: the state is restored field by field, like copy.copy
        obj.__dict__.update(state)
        return obj

    def _class(self, qualified: str) -> Any:
        module_name, _, qualname = qualified.partition(":")
        if not any(module_name == t or module_name.startswith(t + ".") for t in self.trusted):
            return None
        obj = sys.modules.get(module_name)  # never imports
        for part in qualname.split("."):
            obj = getattr(obj, part, None) if obj is not None else None
        return obj if isinstance(obj, type) else None
