"""The stored form of a cached export, and loading it onto the module's current weights.

An entry holds the program's graph, signature and module call graph - never the weights - in one of two
forms: export_graph.py's compact form (static shapes; rebuilt by export_graph_load.py in a fraction of
torch's deserialization), or, for what that form does not carry (symbolic shapes, custom objects...),
torch.export's own serialized JSON (torch._export.serde; its state dict and constants, which torch would
pickle, left out). No pickle either way. On load, the module's CURRENT parameters, buffers and tensor
attributes are bound by name (the same tensor objects: no copy). Tensor constants that tracing created
(torch.tensor(...) in forward: not module state) are stored by value (blob_codec tensors, with their
strides). Custom-class constants (ScriptObjects) make the export not cacheable.

Container: graphcache.blob_codec (versioned tagged JSON + raw payload) of
  [header, graph bytes, constant tensors...]
  header = {"format": EXPORT_FORMAT, "torch": version, "state": <state digest>, "record": CodeRecord JSON,
            "graph": {"form": export_graph.GRAPH_FORM | TORCH_FORM, "sha256": <digest of the graph bytes>,
                      "note": why torch's form was used},
            "state_names": [FQN...],
            "constants": [[name, "module"] | [name, "stored", shape, stride, value index]...]}
Anything malformed, of another format or torch, or whose graph bytes do not match their digest raises
EntryError: a miss. The digest makes a damaged graph a miss rather than a different program.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from . import blob_codec, export_graph, export_graph_load, export_serde
from .export_graph import EntryError
from .export_record import CodeRecord
from .weight_access import qualified_attr

EXPORT_FORMAT = "graphcache.export.v2"
TORCH_FORM = "torch.export.serde"


class NotStorable(Exception):
    """The program holds something the entry format cannot store safely: returned, not cached."""


@dataclass
class Entry:
    state: str
    record: CodeRecord
    state_names: List[str]
    constants: List[list]
    form: str
    program: bytes
    values: List[Any]


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


def _graph_form(ep: Any) -> tuple:
    """(form, bytes, note): the compact form when it rebuilds this very program (checked here, once, by
    rebuilding it and comparing node by node), else torch's serialized form and why."""
    try:
        data = export_graph.encode(ep)
        rebuilt = export_graph_load.load(data, dict(ep.state_dict), dict(ep.constants))
        difference = export_graph.same_program(rebuilt, ep)
        if difference is None:
            return export_graph.GRAPH_FORM, data, ""
        note = f"the compact form does not rebuild the program: {difference}"
    except export_graph.Unsupported as e:
        note = str(e)
    except Exception as e:  # noqa: BLE001 - the compact form failed on this program: torch's form serves it
        note = f"the compact form failed: {type(e).__name__}: {e}"
    try:
        return TORCH_FORM, _serialize_program(ep), note
    except Exception as e:  # noqa: BLE001 - torch's serializer refuses some programs (unregistered namedtuples)
        raise NotStorable(f"torch's serializer refuses the program: {e}") from e


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
    stored: List[Any] = []
    for name, value in ep.constants.items():
        if not isinstance(value, torch.Tensor):
            raise NotStorable(f"constant {name!r} is a {type(value).__qualname__} (only tensors are stored)")
        current = own.get(name)
        if current is None:
            current = qualified_attr(module, name)
        if current is not None and _same_tensor(current, value):
            constants.append([name, "module"])
            continue
        if value.device.type == "meta" or value.layout != torch.strided or type(value) is not torch.Tensor:
            raise NotStorable(f"constant {name!r} ({value.device.type}, {value.layout}) has no storable values")
        stored.append(value)
        constants.append([name, "stored", list(value.shape), list(value.stride()), 1 + len(stored)])
    form, program, note = _graph_form(ep)
    header = {"format": EXPORT_FORMAT, "torch": torch.__version__, "state": state, "record": record.to_json(),
              "graph": {"form": form, "sha256": hashlib.sha256(program).hexdigest(), "note": note},
              "state_names": state_names, "constants": constants}
    return blob_codec.encode([header, program, *stored])


def decode(data: Any) -> Entry:
    import torch

    try:
        values = blob_codec.decode(data)
        header, program = values[0], values[1]
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise EntryError(f"not a {EXPORT_FORMAT} entry")
        if header.get("torch") != torch.__version__:
            raise EntryError(f"written by torch {header.get('torch')}, this is {torch.__version__}")
        graph = header["graph"]
        if graph["form"] not in (export_graph.GRAPH_FORM, TORCH_FORM):
            raise EntryError(f"unknown graph form {graph['form']!r}")
        program = bytes(program)
        if hashlib.sha256(program).hexdigest() != graph["sha256"]:
            raise EntryError("the stored graph does not match its digest (damaged)")
        entry = Entry(state=str(header["state"]), record=CodeRecord.from_json(header["record"]),
                      state_names=[str(n) for n in header["state_names"]], constants=list(header["constants"]),
                      form=graph["form"], program=program, values=list(values))
    except EntryError:
        raise
    except (blob_codec.CodecError, KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        # RuntimeError: a stored tensor whose bytes do not fit its shape (blob_codec's reshape)
        raise EntryError(f"malformed export entry: {type(e).__name__}: {e}") from e
    return entry


def _stored_constant(spec: list, values: List[Any]) -> Any:
    import torch

    _, _, shape, stride, index = spec
    value = values[int(index)] if isinstance(index, int) and 2 <= index < len(values) else None
    if not isinstance(value, torch.Tensor) or list(value.shape) != shape:
        raise EntryError(f"constant {spec[0]!r} is not the stored tensor of shape {shape}")
    out = torch.empty_strided(value.shape, [int(s) for s in stride], dtype=value.dtype, device=value.device)
    out.copy_(value)
    return out


def load(entry: Entry, module: Any, example_inputs: Optional[tuple] = None,
         timings: Optional[Dict[str, float]] = None) -> Any:
    """The stored program, rebuilt with `module`'s current tensors bound as its weights (example_inputs:
    what torch.export would record, (args, kwargs))."""
    timings = {} if timings is None else timings
    start = time.perf_counter()
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
            constants[name] = current if current is not None else qualified_attr(module, name)
            if constants[name] is None:
                raise EntryError(f"the module has no tensor attribute {name!r}")
        elif spec[1] == "stored":
            constants[name] = _stored_constant(spec, entry.values)
        else:
            raise EntryError(f"unknown constant kind {spec[1]!r}")
    timings["bind"] = time.perf_counter() - start
    if entry.form == export_graph.GRAPH_FORM:
        # check_graph=False: these bytes passed the full verifier when the store rebuilt them (_graph_form)
        # and match their digest (decode)
        return export_graph_load.load(entry.program, state_dict, constants, example_inputs, timings,
                                      check_graph=False)
    from torch._export.serde import serialize as serde

    start = time.perf_counter()
    program = export_serde.exported_program_from_json(entry.program)
    with export_serde.fast_tensor_meta():
        ep = serde.ExportedProgramDeserializer().deserialize(program, state_dict, constants, None)
    if example_inputs is not None:
        ep.example_inputs = example_inputs
    timings["graph"] = time.perf_counter() - start
    return ep
