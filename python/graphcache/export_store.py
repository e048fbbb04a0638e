"""The stored form of a cached export, and loading it onto the module's current weights.

An entry holds torch.export's own serialized program (torch._export.serde: the graph, signature, range
constraints and module call graph as JSON - no pickle), never the weights: torch's serializer would
torch.save (pickle) the state dict and the constants, so here they are left out and, on load, the
module's CURRENT parameters, buffers and tensor attributes are bound by name (the same tensor objects: no
copy). Tensor constants that tracing created (torch.tensor(...) in forward: not module state) are stored
as raw little-endian bytes with a dtype / shape / stride header. Custom-class constants (ScriptObjects)
make the export not cacheable.

Container: graphcache.blob_codec (versioned tagged JSON + raw payload) of
  [header, program JSON bytes, constant bytes...]
  header = {"format": EXPORT_FORMAT, "state": <state digest>, "record": CodeRecord JSON,
            "state_names": [FQN...], "constants": [[name, "module"] | [name, "stored", dtype, shape, stride,
            device, blob index]...]}
Anything malformed, of another format or written by another torch raises EntryError: a miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List

from . import blob_codec, export_serde
from ._code_identity import tensor_bytes
from .export_record import CodeRecord

EXPORT_FORMAT = "graphcache.export.v1"


class EntryError(ValueError):
    """A stored export entry that cannot be used (corrupt, other format / torch): treated as a miss."""


class NotStorable(Exception):
    """The program holds something the entry format cannot store safely: returned, not cached."""


@dataclass
class Entry:
    state: str
    record: CodeRecord
    state_names: List[str]
    constants: List[list]
    program: bytes
    blobs: List[Any]


def _serialize_program(ep: Any) -> bytes:
    """The program's JSON without the pickled state dict / constants / example inputs."""
    from torch._export.serde import serialize as serde

    try:
        artifact = serde.serialize(ep, serialize_state_dict=False, serialize_constants=False,
                                   serialize_example_inputs=False)
    except TypeError:  # a torch whose serialize() always pickles them: make that step produce nothing
        original = serde.serialize_torch_artifact
        serde.serialize_torch_artifact = lambda *_a, **_k: b""
        try:
            artifact = serde.serialize(ep)
        finally:
            serde.serialize_torch_artifact = original
    return artifact.exported_program


def _attribute(module: Any, path: str) -> Any:
    obj = module
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _same_tensor(a: Any, b: Any) -> bool:
    import torch

    if a is b:
        return True
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    if a.device != b.device or a.dtype != b.dtype or a.shape != b.shape or a.device.type == "meta":
        return False
    return a.stride() == b.stride() and a.data_ptr() == b.data_ptr()


def module_tensors(module: Any) -> Dict[str, Any]:
    """Parameters and buffers by every name they have (tied weights under each)."""
    tensors = dict(module.named_parameters(remove_duplicate=False))
    tensors.update(module.named_buffers(remove_duplicate=False))
    return tensors


def encode(ep: Any, module: Any, state: str, record: CodeRecord) -> bytes:
    """The entry for `ep`, exported from `module`; NotStorable if part of it cannot be stored safely."""
    import torch

    own = module_tensors(module)
    state_names = []
    for name, tensor in ep.state_dict.items():
        if name not in own or not (own[name] is tensor or _same_tensor(own[name], tensor)):
            raise NotStorable(f"state-dict entry {name!r} is not the module's own parameter / buffer")
        state_names.append(name)
    constants: List[list] = []
    blobs: List[bytes] = []
    for name, value in ep.constants.items():
        if not isinstance(value, torch.Tensor):
            raise NotStorable(f"constant {name!r} is a {type(value).__qualname__} (only tensors are stored)")
        current = own.get(name)
        if current is None:
            current = _attribute(module, name)
        if current is not None and _same_tensor(current, value):
            constants.append([name, "module"])
            continue
        if value.device.type == "meta" or value.layout != torch.strided or type(value) is not torch.Tensor:
            raise NotStorable(f"constant {name!r} ({value.device.type}, {value.layout}) has no storable values")
        blobs.append(tensor_bytes(value))
        constants.append([name, "stored", str(value.dtype).removeprefix("torch."), list(value.shape),
                          list(value.stride()), str(value.device), 1 + len(blobs)])
    header = {"format": EXPORT_FORMAT, "torch": torch.__version__, "state": state, "record": record.to_json(),
              "state_names": state_names, "constants": constants}
    try:
        program = _serialize_program(ep)
    except Exception as e:  # noqa: BLE001 - torch's serializer refuses some programs (unregistered namedtuples)
        raise NotStorable(f"torch's serializer refuses the program: {e}") from e
    return blob_codec.encode([header, program, *blobs])


def decode(data: Any) -> Entry:
    import torch

    try:
        values = blob_codec.decode(data)
        header, program = values[0], values[1]
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise EntryError(f"not a {EXPORT_FORMAT} entry")
        if header.get("torch") != torch.__version__:
            raise EntryError(f"written by torch {header.get('torch')}, this is {torch.__version__}")
        entry = Entry(state=str(header["state"]), record=CodeRecord.from_json(header["record"]),
                      state_names=[str(n) for n in header["state_names"]], constants=list(header["constants"]),
                      program=bytes(program), blobs=list(values))
    except (blob_codec.CodecError, KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, EntryError):
            raise
        raise EntryError(f"malformed export entry: {e}") from e
    return entry


def _stored_constant(spec: list, blobs: List[Any]) -> Any:
    import torch

    _, _, dtype_name, shape, stride, device, index = spec
    dtype = getattr(torch, str(dtype_name), None)
    if not isinstance(dtype, torch.dtype):
        raise EntryError(f"unknown dtype {dtype_name!r}")
    raw = bytes(blobs[int(index)])
    flat_dtype = torch.uint8 if dtype == torch.bool else dtype
    count = 1
    for s in shape:
        count *= int(s)
    if len(raw) != count * flat_dtype.itemsize:
        raise EntryError(f"constant {spec[0]!r} has {len(raw)} bytes, expected {count * flat_dtype.itemsize}")
    if raw:
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(flat_dtype)
    else:
        flat = torch.empty(0, dtype=flat_dtype)
    values = flat.to(dtype).reshape([int(s) for s in shape])
    out = torch.empty_strided(values.shape, [int(s) for s in stride], dtype=dtype, device=str(device))
    out.copy_(values)
    return out


def load(entry: Entry, module: Any) -> Any:
    """The stored program, deserialized with `module`'s current tensors bound as its weights."""
    from torch._export.serde import serialize as serde

    own = module_tensors(module)
    try:
        state_dict = {name: own[name] for name in entry.state_names}
    except KeyError as e:
        raise EntryError(f"the module has no parameter / buffer {e.args[0]!r}") from e
    constants = {}
    for spec in entry.constants:
        name = str(spec[0])
        if spec[1] == "module":
            current = own.get(name)
            constants[name] = current if current is not None else _attribute(module, name)
            if constants[name] is None:
                raise EntryError(f"the module has no tensor attribute {name!r}")
        elif spec[1] == "stored":
            constants[name] = _stored_constant(spec, entry.blobs)
        else:
            raise EntryError(f"unknown constant kind {spec[1]!r}")
    program = export_serde.exported_program_from_json(entry.program)
    with export_serde.fast_tensor_meta():
        return serde.ExportedProgramDeserializer().deserialize(program, state_dict, constants, None)
