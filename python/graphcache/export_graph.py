"""The compact stored form of an exported program's graph, and the check that a rebuilt graph is the same.

torch's own serializer (torch._export.serde) writes a verbose JSON schema whose deserializer rebuilds a
7b Llama program in about a second: schema objects per argument, operator names parsed per node, metadata
strings split per node, a FakeTensor per value through the fake mode's dispatcher, and three recompiles
of the generated Python code. The export cache only ever reloads what this same process (same torch)
wrote, so it stores the graph in a form made to rebuild fast (export_graph_load.py):

  {"form": GRAPH_FORM,
   "targets":  [["op", ns, name, overload] | ["hop", name] | ["py", module, qualname]],  distinct, resolved
               once per load
   "tensors":  [[dtype, device, shape, stride, requires_grad]]     distinct FakeTensor descriptions
   "tmetas":   [[shape, dtype, requires_grad, stride, memory_format, is_quantized]]  distinct tensor_meta
   "strings":  [text]   distinct stack traces and JSON texts (custom, from_node): a Llama's layers share them
   "stacks":   [[[key, path, type name]...]]   distinct nn_module_stacks
   "metas":    [{stack_trace: string, nn_module_stack: stack, source_fn_stack, torch_fn, custom: string,
                 from_node: string}]   distinct metadata records
   "graph":    {"nodes": [[op, name, target, args, kwargs, val, tensor_meta, meta]], "modules": {attr: graph}}
   "signature", "module_call_graph", "verifiers", "custom"}

Node arguments are JSON with tags for what JSON lacks ({"n": i} node i, {"t": [...]} tuple, {"dt": ...}
dtype, ...); a node's `val` is a tensor index (a new FakeTensor), {"same": k} (the k-th FakeTensor made so
far: the identity sharing of getitem outputs) or a tagged scalar / tuple / list. The metadata kept is what
torch's serializer keeps (plus tensor_meta, which torch.export's own graph has); other keys are dropped,
as torch.export.save does.

Only programs with static shapes are written this way: a symbolic size, a custom object, an unknown
argument type or target raises Unsupported and the entry stores torch's own serialized form instead.
`same_program` compares a rebuilt program with the exported one node by node; the store runs it on every
entry it writes (export_store.py), so what this form cannot carry is found at store time, not at load.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Dict, List, Optional, Tuple

GRAPH_FORM = "graphcache.export-graph.v1"

# Modules whose plain callables may appear as call_function targets (resolved from sys.modules only).
TRUSTED_MODULES = ("operator", "_operator", "builtins", "math", "torch")

# Node metadata kept: what torch.export's serializer keeps (serialize_metadata), val and tensor_meta.
KEPT_META = ("stack_trace", "nn_module_stack", "source_fn_stack", "torch_fn", "custom", "from_node")

OPS = ("placeholder", "call_function", "get_attr", "output")


def kept_meta() -> Tuple[str, ...]:
    """KEPT_META, less from_node where this torch cannot rebuild it (its own serializer drops it then)."""
    from torch.fx.traceback import NodeSource

    if hasattr(NodeSource, "to_dict") and hasattr(NodeSource, "_from_dict"):
        return KEPT_META
    return tuple(k for k in KEPT_META if k != "from_node")


class Unsupported(Exception):
    """The program holds something the compact form does not encode; torch's form is stored instead."""


class EntryError(ValueError):
    """A stored export entry that cannot be used (corrupt, other format / torch): treated as a miss."""


def _trusted(module: str) -> bool:
    return module in TRUSTED_MODULES or module.startswith("torch.")


def target_description(target: Any) -> list:
    """How a call_function target is named in the stored form; Unsupported when it cannot be found again."""
    import torch

    from .export_graph_load import resolve_target

    if isinstance(target, torch._ops.OpOverload):
        described = ["op", target.namespace, target._opname, target._overloadname]
    elif isinstance(target, torch._ops.HigherOrderOperator):
        described = ["hop", target.name()]
    else:
        module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
        if not isinstance(module, str) or not isinstance(qualname, str) or not _trusted(module):
            raise Unsupported(f"call target {target!r} is not a torch operator or a trusted function")
        described = ["py", module, qualname]
    try:
        found = resolve_target(described)
    except Exception as e:  # noqa: BLE001 - any failure to find it again: not storable this way
        raise Unsupported(f"call target {target!r} cannot be resolved by name: {e}") from e
    if found is not target:
        raise Unsupported(f"call target {target!r} resolves by name to another object")
    return described


def _finite(v: float) -> Any:
    return v if math.isfinite(v) else {"f": repr(v)}


class _Encoder:
    def __init__(self) -> None:
        import torch
        from torch._subclasses.fake_tensor import FakeTensor
        from torch.fx.passes.shape_prop import TensorMetadata

        self.torch = torch
        self.fake_tensor = FakeTensor
        self.tensor_metadata = TensorMetadata
        self.tables: Dict[str, Tuple[list, dict]] = {
            t: ([], {}) for t in ("targets", "tensors", "tmetas", "strings", "stacks", "metas")}
        self.tensor_ids: Dict[int, int] = {}  # id(FakeTensor) -> order of first appearance (for {"same": k})
        self.alive: List[Any] = []  # keeps the ids above from being reused while encoding
        self.kept = kept_meta()

    def _intern(self, table: str, value: Any) -> int:
        items, index = self.tables[table]
        text = json.dumps(value, sort_keys=True, allow_nan=False)
        found = index.get(text)
        if found is None:
            found = index[text] = len(items)
            items.append(value)
        return found

    # -- arguments ---------------------------------------------------------------------------------
    def arg(self, a: Any, index: Dict[Any, int]) -> Any:
        torch = self.torch
        kind = type(a)
        if a is None or kind in (bool, int, str):
            return a
        if kind is float:
            return _finite(a)
        if kind is torch.fx.Node:
            if a not in index:
                raise Unsupported(f"argument node {a.name} is not an earlier node of the same graph")
            return {"n": index[a]}
        if isinstance(a, list) and kind in (list, torch.fx.immutable_collections.immutable_list):
            return [self.arg(x, index) for x in a]
        if kind is tuple:
            return {"t": [self.arg(x, index) for x in a]}
        if isinstance(a, dict) and kind in (dict, torch.fx.immutable_collections.immutable_dict):
            if not all(type(k) is str for k in a):
                raise Unsupported("a dict argument with non-string keys")
            return {"d": [[k, self.arg(v, index)] for k, v in a.items()]}
        if kind is torch.dtype:
            return {"dt": str(a).removeprefix("torch.")}
        if kind is torch.device:
            return {"dev": str(a)}
        if kind is torch.layout:
            return {"lay": str(a).removeprefix("torch.")}
        if kind is torch.memory_format:
            return {"mf": str(a).removeprefix("torch.")}
        raise Unsupported(f"an argument of type {kind.__qualname__}")

    # -- node values ---------------------------------------------------------------------------------
    def tensor(self, t: Any) -> Any:
        torch = self.torch
        if id(t) in self.tensor_ids:
            return {"same": self.tensor_ids[id(t)]}
        if type(t) is not self.fake_tensor or t.layout != torch.strided or t.is_quantized:
            raise Unsupported(f"a node value of type {type(t).__qualname__} ({t.layout})")
        shape, stride = list(t.shape), list(t.stride())
        if not all(type(s) is int for s in shape + stride):
            raise Unsupported("symbolic sizes")
        self.tensor_ids[id(t)] = len(self.tensor_ids)
        self.alive.append(t)
        return self._intern("tensors", [str(t.dtype).removeprefix("torch."), str(t.device), shape, stride,
                                        bool(t.requires_grad)])

    def value(self, v: Any) -> Any:
        torch = self.torch
        if isinstance(v, torch.Tensor):
            return self.tensor(v)
        kind = type(v)
        if v is None or kind in (bool, int, str):
            return {"c": v}
        if kind is float:
            return {"c": _finite(v)}
        if kind is tuple:
            return {"t": [self.value(x) for x in v]}
        if kind is list:
            return {"l": [self.value(x) for x in v]}
        raise Unsupported(f"a node value of type {kind.__qualname__}")

    def tensor_meta(self, m: Any) -> int:
        torch = self.torch
        if type(m) is not self.tensor_metadata or m._fields != (
                "shape", "dtype", "requires_grad", "stride", "memory_format", "is_quantized", "qparams"):
            raise Unsupported(f"tensor_meta of type {type(m).__qualname__}")
        if m.is_quantized or m.qparams or not all(type(s) is int for s in (*m.shape, *m.stride)):
            raise Unsupported("quantized or symbolic tensor_meta")
        if m.memory_format is not None and type(m.memory_format) is not torch.memory_format:
            raise Unsupported("tensor_meta memory format")
        return self._intern("tmetas", [list(m.shape), str(m.dtype).removeprefix("torch."), bool(m.requires_grad),
                                       list(m.stride), None if m.memory_format is None
                                       else str(m.memory_format).removeprefix("torch."), False])

    def meta(self, meta: Dict[str, Any]) -> Optional[int]:
        out: Dict[str, Any] = {}
        for key in self.kept:
            if key not in meta:
                continue
            value = meta[key]
            if value is None:
                out[key] = None
            elif key == "stack_trace":
                if not isinstance(value, str):
                    raise Unsupported("a stack_trace that is not a string")
                out[key] = self._intern("strings", value)
            elif key == "nn_module_stack":
                if not isinstance(value, dict) or not all(
                        isinstance(k, str) and type(v) is tuple and len(v) == 2 and all(type(x) is str for x in v)
                        for k, v in value.items()):
                    raise Unsupported("an nn_module_stack other than {key: (path, type name)}")
                out[key] = self._intern("stacks", [[k, v[0], v[1]] for k, v in value.items()])
            elif key == "torch_fn":
                if type(value) is not tuple or not all(type(x) is str for x in value):
                    raise Unsupported("a torch_fn other than a tuple of strings")
                out[key] = list(value)
            elif key == "source_fn_stack":
                out[key] = [self.source_fn(item) for item in value]
            elif key == "custom":
                try:
                    text = json.dumps(value, allow_nan=False)
                    if json.loads(text) != value:
                        raise ValueError("not JSON round-trippable")
                except (TypeError, ValueError) as e:
                    raise Unsupported(f"custom metadata that is not JSON: {e}") from e
                out[key] = self._intern("strings", text)
            elif key == "from_node":
                out[key] = self._intern("strings", self.from_node(value))
        return self._intern("metas", out) if out else None

    def source_fn(self, item: Any) -> list:
        if type(item) is not tuple or len(item) != 2 or not isinstance(item[0], str):
            raise Unsupported("a source_fn_stack entry other than (name, function)")
        name, fn = item
        if isinstance(fn, str):
            return [name, {"s": fn}]
        return [name, self._intern("targets", target_description(fn))]

    def from_node(self, value: Any) -> Any:
        from torch.fx.traceback import NodeSource

        if not isinstance(value, list) or not all(isinstance(s, NodeSource) for s in value):
            raise Unsupported("from_node other than a list of NodeSource")
        data = [s.to_dict() for s in value]
        return json.dumps(data, allow_nan=False)

    # -- graphs --------------------------------------------------------------------------------------
    def graph(self, gm: Any) -> dict:
        torch = self.torch
        nodes = list(gm.graph.nodes)
        index: Dict[Any, int] = {}
        out = []
        modules: Dict[str, dict] = {}
        for position, node in enumerate(nodes):
            if node.op not in OPS:
                raise Unsupported(f"a {node.op} node")
            if node.op == "call_function":
                target: Any = self._intern("targets", target_description(node.target))
            elif isinstance(node.target, str):
                target = node.target
            else:
                raise Unsupported(f"a {node.op} node whose target is not a name")
            if node.op == "get_attr":
                owner = getattr(gm, node.target, None) if "." not in node.target else None
                if not isinstance(owner, torch.fx.GraphModule):
                    raise Unsupported(f"get_attr {node.target!r} is not a subgraph")
                if node.target not in modules:
                    modules[node.target] = self.graph(owner)
            if node.type is not None:
                raise Unsupported(f"node {node.name} has a type annotation")
            meta = node.meta
            val = self.value(meta["val"]) if "val" in meta else None
            tmeta = self.tensor_meta(meta["tensor_meta"]) if meta.get("tensor_meta") is not None else None
            out.append([OPS.index(node.op), node.name, target, [self.arg(a, index) for a in node.args],
                        self.arg(dict(node.kwargs), index), val, tmeta, self.meta(meta)])
            index[node] = position
        return {"nodes": out, "modules": modules}


def _argument_spec(spec: Any) -> list:
    from torch.export import graph_signature as gs

    for name in ("TensorArgument", "SymIntArgument", "SymFloatArgument", "SymBoolArgument", "TokenArgument"):
        kind = getattr(gs, name, None)
        if kind is not None and type(spec) is kind:
            return [name, spec.name]
    if type(spec) is gs.ConstantArgument:
        if spec.value is not None and type(spec.value) not in (bool, int, str, float):
            raise Unsupported(f"a constant argument of type {type(spec.value).__qualname__}")
        value = _finite(spec.value) if type(spec.value) is float else spec.value
        return ["ConstantArgument", spec.name, value]
    raise Unsupported(f"an argument spec of type {type(spec).__qualname__}")


def _fields_are(obj: Any, names: Tuple[str, ...]) -> None:
    if tuple(f.name for f in dataclasses.fields(obj)) != names:
        raise Unsupported(f"{type(obj).__qualname__} has fields this form does not know")


def _signature(sig: Any) -> dict:
    inputs = []
    for spec in sig.input_specs:
        _fields_are(spec, ("kind", "arg", "target", "persistent"))
        inputs.append([spec.kind.name, _argument_spec(spec.arg), spec.target, spec.persistent])
    outputs = []
    for spec in sig.output_specs:
        _fields_are(spec, ("kind", "arg", "target"))
        outputs.append([spec.kind.name, _argument_spec(spec.arg), spec.target])
    return {"inputs": inputs, "outputs": outputs}


def _module_call_graph(entries: Any) -> list:
    from torch.utils._pytree import treespec_dumps

    out = []
    for entry in entries:
        _fields_are(entry, ("fqn", "signature"))
        sig = entry.signature
        if sig is None:
            out.append([entry.fqn, None])
            continue
        _fields_are(sig, ("inputs", "outputs", "in_spec", "out_spec", "forward_arg_names"))
        try:
            specs = [treespec_dumps(sig.in_spec), treespec_dumps(sig.out_spec)]
        except Exception as e:  # noqa: BLE001 - a pytree node type without a serialized name
            raise Unsupported(f"the module call signature's pytree spec: {e}") from e
        names = sig.forward_arg_names
        if names is not None and not all(isinstance(n, str) for n in names):
            raise Unsupported("forward_arg_names other than strings")
        out.append([entry.fqn, {"inputs": [_argument_spec(a) for a in sig.inputs],
                                "outputs": [_argument_spec(a) for a in sig.outputs], "specs": specs,
                                "forward_arg_names": None if names is None else list(names)}])
    return out


def encode(ep: Any) -> bytes:
    """The compact form of `ep` (graph, signature, module call graph, verifiers), without any tensor data.
    Raises Unsupported for what it cannot carry."""
    if ep.range_constraints:
        raise Unsupported("symbolic shapes (range constraints)")
    encoder = _Encoder()
    graph = encoder.graph(ep.graph_module)
    verifiers = []
    for verifier in ep.verifiers:
        verifiers.append(target_description(verifier))
    custom = ep.graph_module.meta.get("custom")
    if custom is not None:
        try:
            custom = json.dumps(custom, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise Unsupported(f"custom graph metadata that is not JSON: {e}") from e
    program = {
        "form": GRAPH_FORM,
        "targets": encoder.tables["targets"][0],
        "tensors": encoder.tables["tensors"][0],
        "tmetas": encoder.tables["tmetas"][0],
        "strings": encoder.tables["strings"][0],
        "stacks": encoder.tables["stacks"][0],
        "metas": encoder.tables["metas"][0],
        "graph": graph,
        "signature": _signature(ep.graph_signature),
        "module_call_graph": _module_call_graph(ep.module_call_graph),
        "verifiers": verifiers,
        "custom": custom,
    }
    return json.dumps(program, separators=(",", ":"), allow_nan=False).encode()


# ------------------------------------------------------------------------------------------ comparison
def _same_value(a: Any, b: Any, torch: Any) -> Optional[str]:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return "tensor vs non-tensor"
        if (type(a), a.dtype, a.device, a.shape, a.stride(), a.requires_grad, a.layout) != (
                type(b), b.dtype, b.device, b.shape, b.stride(), b.requires_grad, b.layout):
            return f"tensor {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}"
        return None
    if type(a) is not type(b):
        return f"{type(a).__qualname__} vs {type(b).__qualname__}"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return "lengths differ"
        for x, y in zip(a, b):
            why = _same_value(x, y, torch)
            if why:
                return why
        return None
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return None
    return None if a == b else f"{a!r} vs {b!r}"


def _same_arg(a: Any, b: Any, torch: Any) -> bool:
    if isinstance(a, torch.fx.Node) or isinstance(b, torch.fx.Node):
        return isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node) and a.name == b.name
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_arg(x, y, torch) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_arg(a[k], b[k], torch) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _same_graph(a: Any, b: Any, torch: Any, kept: Tuple[str, ...]) -> Optional[str]:
    if type(a.graph._codegen) is not type(b.graph._codegen):  # how the module is called (pytree or flat)
        return f"{type(a.graph._codegen).__name__} vs {type(b.graph._codegen).__name__} code generation"
    nodes_a, nodes_b = list(a.graph.nodes), list(b.graph.nodes)
    if len(nodes_a) != len(nodes_b):
        return f"{len(nodes_a)} nodes vs {len(nodes_b)}"
    for x, y in zip(nodes_a, nodes_b):
        where = f"node {x.name}"
        if (x.op, x.name) != (y.op, y.name) or x.target is not y.target and x.target != y.target:
            return f"{where}: {x.op} {x.name} {x.target} vs {y.op} {y.name} {y.target}"
        if not _same_arg(x.args, y.args, torch) or not _same_arg(dict(x.kwargs), dict(y.kwargs), torch):
            return f"{where}: arguments differ"
        for key in ("val", "tensor_meta", *kept):
            if (key in x.meta) != (key in y.meta):
                return f"{where}: meta {key!r} present in one only"
            if key in x.meta:
                why = _same_value(x.meta[key], y.meta[key], torch) if key != "from_node" else (
                    None if [s.to_dict() for s in x.meta[key] or []] == [s.to_dict() for s in y.meta[key] or []]
                    else "differs")
                if why:
                    return f"{where}: meta {key!r}: {why}"
        if x.op == "get_attr":
            why = _same_graph(getattr(a, x.target), getattr(b, y.target), torch, kept)
            if why:
                return f"subgraph {x.target}: {why}"
    return None


def _sharing(gm: Any, torch: Any, seen: Dict[int, int], out: List[int], visited: set) -> List[int]:
    """For each tensor in the node values, in the encoder's order, the position of its first occurrence:
    equal lists mean the same values are shared (a getitem's value that is its producer's element)."""

    def walk(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            out.append(seen.setdefault(id(v), len(seen)))
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    for node in gm.graph.nodes:
        if node.op == "get_attr" and node.target not in visited:
            visited.add(node.target)
            _sharing(getattr(gm, node.target), torch, seen, out, visited)
        walk(node.meta.get("val"))
    return out


def same_program(rebuilt: Any, original: Any) -> Optional[str]:
    """None when `rebuilt` has `original`'s graph (nodes, arguments, kept metadata, values' metadata),
    signature, module call graph and verifiers; else the first difference."""
    import torch

    why = _same_graph(rebuilt.graph_module, original.graph_module, torch, kept_meta())
    if why:
        return why
    if _sharing(rebuilt.graph_module, torch, {}, [], set()) != _sharing(original.graph_module, torch, {}, [], set()):
        return "node values are shared differently"
    if rebuilt.graph_signature != original.graph_signature:
        return "graph signatures differ"
    if len(rebuilt.module_call_graph) != len(original.module_call_graph):
        return "module call graphs differ"
    for x, y in zip(rebuilt.module_call_graph, original.module_call_graph):
        if x != y:
            return f"module call entry {y.fqn!r} differs"
    if list(rebuilt.verifiers) != list(original.verifiers):
        return "verifiers differ"
    if rebuilt.graph_module.meta.get("custom") != original.graph_module.meta.get("custom"):
        return "custom graph metadata differs"
    return None
