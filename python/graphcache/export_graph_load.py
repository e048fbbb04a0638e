"""Rebuilding an ExportedProgram from the compact form of export_graph.py, fast.

Where the time goes instead of torch's deserializer (7b Llama, ~2,100 nodes):
  * each distinct target is resolved once (torch.ops.<ns>.<op>.<overload>), not parsed per node;
  * each node is one torch.fx.Graph.create_node call with its arguments already in their final form;
  * each FakeTensor is made directly from a meta tensor, not by running empty_strided through the fake
    mode's dispatcher; the descriptions are deduplicated, the tensors are not (each node owns its value,
    except where the exported graph itself shared one: {"same": k});
  * metadata is parsed once per distinct record and copied per node;
  * no unbacked-symbol analysis: the compact form holds only static shapes, so there are no symbols;
  * the GraphModules are torch.fx's _LazyGraphModule: their Python code is generated on first use
    (calling it, .code, printing) rather than three times at load. Consumers that only read the graph
    (graphcache.key, AOTInductor, Torch-TensorRT, ep.module()'s unlifting copy) never pay for it.
ExportedProgram's own constructor still runs; on a hit its verifier checks the signature and module call
graph against the bound weights, and leaves out the node-by-node check the store already ran on these
bytes (_program_construction says why that is safe).

Every malformed or unknown part raises EntryError (a miss), never builds a different program: the bytes
are checked against the digest written with them before this runs (export_store.py).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from .export_graph import GRAPH_FORM, OPS, EntryError


def resolve_target(described: Any) -> Any:
    """The callable a stored target description names (only torch operators and trusted modules)."""
    import torch

    from .export_graph import _trusted

    kind = described[0]
    if kind == "op" and len(described) == 4:
        _, namespace, name, overload = described
        return getattr(getattr(getattr(torch.ops, namespace), name), overload)
    if kind == "hop" and len(described) == 2:
        return getattr(torch.ops.higher_order, described[1])
    if kind == "py" and len(described) == 3:
        _, module_name, qualname = described
        module = sys.modules.get(module_name) if isinstance(module_name, str) and _trusted(module_name) else None
        if module is None:
            raise EntryError(f"target module {module_name!r} is not a loaded trusted module")
        obj = module
        for part in str(qualname).split("."):
            if part.startswith("<"):
                raise EntryError(f"target {qualname!r} is not reachable by name")
            obj = getattr(obj, part)
        return obj
    raise EntryError(f"unknown target description {described!r}")


def _item(table: Sequence[Any], index: Any, what: str) -> Any:
    """table[index] for a stored index (a negative or out-of-range one is malformed, not Python's wrap)."""
    if type(index) is not int or not 0 <= index < len(table):
        raise EntryError(f"a {what} index {index!r} out of range")
    return table[index]


_construction_lock = threading.Lock()


@contextlib.contextmanager
def _program_construction(check_graph: bool):
    """While active, ExportedProgram's constructor - in this thread only; other threads get torch's own
    behaviour - wraps the graph in a _LazyGraphModule (torch.fx's GraphModule that generates its Python
    code on first use) instead of generating and compiling it at once, and, unless check_graph, runs the
    verifier's signature and module-call-graph checks (they see the module's current weights) but not its
    node-by-node graph check. Skipping that is safe because the graph is the one that passed it at store
    time: the store rebuilt it with this code and the full verifier, compared it node by node with
    torch.export's own program (export_store.py), and wrote these very bytes, whose SHA-256 was checked
    before this runs."""
    from torch._export import verifier
    from torch.export import exported_program
    from torch.fx._lazy_graph_module import _LazyGraphModule

    program_class = exported_program.ExportedProgram
    with _construction_lock:
        thread = threading.get_ident()
        original_create = getattr(exported_program, "_create_graph_module_for_export", None)
        original_validate = program_class.__dict__.get("_validate")
        partial_checks = [getattr(verifier, name, None) for name in (
            "_verify_exported_program_module_call_graph", "_verify_exported_program_signature")]

        def create(root: Any, graph: Any) -> Any:
            if threading.get_ident() == thread:
                return _LazyGraphModule(root, graph)
            return original_create(root, graph)

        def validate(self: Any) -> None:
            if threading.get_ident() == thread and not check_graph and all(partial_checks):
                for check in partial_checks:
                    check(self)
                return
            original_validate(self)

        if original_create is not None:
            exported_program._create_graph_module_for_export = create
        if original_validate is not None:
            program_class._validate = validate
        try:
            yield
        finally:
            if original_create is not None:
                exported_program._create_graph_module_for_export = original_create
            if original_validate is not None:
                program_class._validate = original_validate


class _Builder:
    def __init__(self, program: dict) -> None:
        import torch
        from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode
        from torch.fx.experimental.symbolic_shapes import ShapeEnv
        from torch.fx.passes.shape_prop import TensorMetadata

        self.torch = torch
        self.fake_tensor = FakeTensor
        self.tensor_metadata = TensorMetadata
        # As torch's deserializer makes it: the mode every value of the program belongs to.
        self.fake_mode = FakeTensorMode(allow_fallback_kernels=False, allow_non_fake_inputs=True,
                                        shape_env=ShapeEnv(assume_static_by_default=True))
        self.targets = [resolve_target(t) for t in program["targets"]]
        self.tensor_specs = [self._tensor_spec(t) for t in program["tensors"]]
        self.tmetas = [self._tmeta_spec(t) for t in program["tmetas"]]
        self.strings = program["strings"]
        if type(self.strings) is not list or not all(type(t) is str for t in self.strings):
            raise EntryError("a malformed string table")
        self.stacks = [{str(k): (str(path), str(ty)) for k, path, ty in stack} for stack in program["stacks"]]
        self.metas = [self._meta_spec(m) for m in program["metas"]]
        self.made: List[Any] = []  # FakeTensors in order of creation ({"same": k})

    # -- tables -------------------------------------------------------------------------------------------
    def _dtype(self, name: Any) -> Any:
        dtype = getattr(self.torch, str(name), None)
        if not isinstance(dtype, self.torch.dtype):
            raise EntryError(f"unknown dtype {name!r}")
        return dtype

    def _memory_format(self, name: Any) -> Any:
        value = getattr(self.torch, str(name), None)
        if not isinstance(value, self.torch.memory_format):
            raise EntryError(f"unknown memory format {name!r}")
        return value

    def _ints(self, values: Any) -> List[int]:
        if type(values) is not list or not all(type(v) is int for v in values):
            raise EntryError("a size or stride that is not a list of integers")
        return values

    def _tensor_spec(self, spec: list) -> tuple:
        """(a maker of the meta tensor, the FakeTensor's device)."""
        dtype, device, shape, stride, requires_grad = spec
        if len(self._ints(shape)) != len(self._ints(stride)) or type(requires_grad) is not bool:
            raise EntryError("a malformed tensor description")
        return (functools.partial(self.torch.empty_strided, shape, stride, dtype=self._dtype(dtype), device="meta",
                                  requires_grad=requires_grad), self.torch.device(device))

    def _tmeta_spec(self, spec: list) -> tuple:
        shape, dtype, requires_grad, stride, memory_format, is_quantized = spec
        if is_quantized is not False or type(requires_grad) is not bool:
            raise EntryError("a malformed tensor_meta")
        return (self.torch.Size(self._ints(shape)), self._dtype(dtype), requires_grad, tuple(self._ints(stride)),
                None if memory_format is None else self._memory_format(memory_format))

    def _meta_spec(self, meta: dict) -> tuple:
        """(the node metadata shared by reference, the keys each node needs its own copy of)."""
        out: Dict[str, Any] = {}
        for key, value in meta.items():
            if value is None:
                out[key] = None
            elif key in ("stack_trace", "custom", "from_node"):
                out[key] = _item(self.strings, value, "string")  # custom / from_node: JSON, parsed per node
            elif key == "nn_module_stack":
                out[key] = _item(self.stacks, value, "nn_module_stack")
            elif key == "torch_fn":
                out[key] = tuple(str(x) for x in value)
            elif key == "source_fn_stack":
                out[key] = [(str(name), fn["s"] if isinstance(fn, dict) else _item(self.targets, fn, "target"))
                            for name, fn in value]
            else:
                raise EntryError(f"unknown metadata {key!r}")
        return out, [k for k in ("nn_module_stack", "source_fn_stack", "custom", "from_node")
                     if out.get(k) is not None]

    def node_meta(self, spec: tuple) -> dict:
        """A node's own metadata: shared immutable values (strings, tuples), fresh mutable ones."""
        template, own_copies = spec
        out = dict(template)
        for key in own_copies:
            if key == "nn_module_stack":
                out[key] = dict(template[key])
            elif key == "source_fn_stack":
                out[key] = list(template[key])
            elif key == "custom":
                out[key] = json.loads(template[key])
            else:
                from torch.fx.traceback import NodeSource

                out[key] = [s for d in json.loads(template[key]) if (s := NodeSource._from_dict(d)) is not None]
        return out

    def tensor(self, index: int) -> Any:
        make_elem, device = _item(self.tensor_specs, index, "tensor")
        made = self.fake_tensor(self.fake_mode, make_elem(), device)
        self.made.append(made)
        return made

    def value(self, v: Any) -> Any:
        if type(v) is int:
            return self.tensor(v)
        (tag, inner), = v.items()
        if tag == "same":
            return _item(self.made, inner, "tensor")
        if tag == "c":
            return float(inner["f"]) if type(inner) is dict else inner
        if tag == "t":
            return tuple(self.value(x) for x in inner)
        if tag == "l":
            return [self.value(x) for x in inner]
        raise EntryError(f"unknown value tag {tag!r}")

    def subgraph(self, name: str, stored_modules: dict) -> Any:
        from torch.fx._lazy_graph_module import _LazyGraphModule

        if not name.isidentifier() or name not in stored_modules:
            raise EntryError(f"get_attr {name!r} names no stored subgraph")
        graph, modules = self.graph(stored_modules[name])
        root = self.torch.nn.Module()
        for sub_name, module in modules.items():
            setattr(root, sub_name, module)
        return _LazyGraphModule(root, graph)

    def arg(self, a: Any, nodes: List[Any]) -> Any:
        kind = type(a)
        if kind is dict:
            inner = a.get("n")
            if inner is not None and len(a) == 1:
                if type(inner) is not int or not 0 <= inner < len(nodes):
                    raise EntryError("an argument refers to a node that is not an earlier one")
                return nodes[inner]
        elif kind is list:
            return [self.arg(x, nodes) for x in a]
        else:
            return a
        (tag, inner), = a.items()
        if tag == "t":
            return tuple(self.arg(x, nodes) for x in inner)
        if tag == "d":
            return {str(k): self.arg(v, nodes) for k, v in inner}
        if tag == "dt":
            return self._dtype(inner)
        if tag == "dev":
            return self.torch.device(inner)
        if tag == "lay":
            layout = getattr(self.torch, str(inner), None)
            if not isinstance(layout, self.torch.layout):
                raise EntryError(f"unknown layout {inner!r}")
            return layout
        if tag == "mf":
            return self._memory_format(inner)
        if tag == "f":
            value = float(inner)
            if math.isfinite(value):
                raise EntryError("a tagged float that is finite")
            return value
        raise EntryError(f"unknown argument tag {tag!r}")

    def graph(self, stored: dict) -> Any:
        """(torch.fx.Graph, {attribute: sub-GraphModule}) of a stored graph. A subgraph is built where its
        first get_attr node stands, as the encoder wrote it (the {"same": k} order depends on it)."""
        torch = self.torch
        modules: Dict[str, Any] = {}
        stored_modules = stored["modules"]
        graph = torch.fx.Graph()
        nodes: List[Any] = []
        names = set()
        for op_index, name, target, args, kwargs, val, tmeta, meta in stored["nodes"]:
            op = _item(OPS, op_index, "operation")
            if op == "call_function":
                target = _item(self.targets, target, "target")
            elif not isinstance(target, str):
                raise EntryError(f"a {op} node whose target {target!r} is not a name")
            elif op == "get_attr" and target not in modules:
                modules[target] = self.subgraph(target, stored_modules)
            if not isinstance(name, str) or name in names:
                raise EntryError(f"a node name {name!r} that is not unique")
            names.add(name)
            args = self.arg(args, nodes)
            kwargs = self.arg(kwargs, nodes)
            if type(args) is not list or type(kwargs) is not dict:
                raise EntryError("node arguments of the wrong kind")
            node = graph.create_node(op, target, tuple(args), kwargs, name)
            if node.name != name:  # fx renames names it finds illegal; the program's own name wins (as in torch)
                node.name = name
            if meta is not None:
                node.meta.update(self.node_meta(_item(self.metas, meta, "metadata")))
            if val is not None:
                node.meta["val"] = self.value(val)
            if tmeta is not None:
                node.meta["tensor_meta"] = self.tensor_metadata(*_item(self.tmetas, tmeta, "tensor_meta"), False, {})
            nodes.append(node)
        return graph, modules


def _argument_spec(spec: list) -> Any:
    from torch.export import graph_signature as gs

    kind = spec[0]
    if kind == "ConstantArgument":
        _, name, value = spec
        if type(value) is dict:
            value = float(value["f"])
        return gs.ConstantArgument(name=str(name), value=value)
    cls = getattr(gs, str(kind), None) if kind in (
        "TensorArgument", "SymIntArgument", "SymFloatArgument", "SymBoolArgument", "TokenArgument") else None
    if cls is None or len(spec) != 2:
        raise EntryError(f"unknown argument spec {kind!r}")
    return cls(name=str(spec[1]))


def _signature(stored: dict) -> Any:
    from torch.export import graph_signature as gs

    inputs = [gs.InputSpec(kind=gs.InputKind[kind], arg=_argument_spec(arg), target=target, persistent=persistent)
              for kind, arg, target, persistent in stored["inputs"]]
    outputs = [gs.OutputSpec(kind=gs.OutputKind[kind], arg=_argument_spec(arg), target=target)
               for kind, arg, target in stored["outputs"]]
    return gs.ExportGraphSignature(input_specs=inputs, output_specs=outputs)


def _module_call_graph(stored: list) -> list:
    from torch.export.exported_program import ModuleCallEntry, ModuleCallSignature
    from torch.utils._pytree import treespec_loads

    out = []
    for fqn, sig in stored:
        if sig is None:
            out.append(ModuleCallEntry(fqn=str(fqn), signature=None))
            continue
        in_spec, out_spec = sig["specs"]
        out.append(ModuleCallEntry(fqn=str(fqn), signature=ModuleCallSignature(
            inputs=[_argument_spec(a) for a in sig["inputs"]], outputs=[_argument_spec(a) for a in sig["outputs"]],
            in_spec=treespec_loads(in_spec), out_spec=treespec_loads(out_spec),
            forward_arg_names=sig["forward_arg_names"])))
    return out


def load(data: bytes, state_dict: Dict[str, Any], constants: Dict[str, Any],
         example_inputs: Optional[tuple] = None, timings: Optional[Dict[str, float]] = None,
         check_graph: bool = True) -> Any:
    """The ExportedProgram of the compact form `data`, with these state-dict tensors and constants.
    check_graph=False leaves out the verifier's node-by-node check: only for bytes this code rebuilt and
    verified at store time (see _program_construction). timings (s): graph (parse + rebuild the graphs),
    program (ExportedProgram's constructor)."""
    import torch
    from torch._export.verifier import Verifier

    timings = {} if timings is None else timings
    start = time.perf_counter()
    # The cyclic garbage collector is paused while the graph is built: the build makes tens of thousands
    # of long-lived objects and no garbage, and each collection it would trigger scans the whole heap
    # (the model, torch) for nothing - a pause of up to a second in the middle of a 0.1 s build.
    collecting = gc.isenabled()
    gc.disable()
    try:
        program = json.loads(data)
        if not isinstance(program, dict) or program.get("form") != GRAPH_FORM:
            raise EntryError(f"not a {GRAPH_FORM} graph")
        builder = _Builder(program)
        graph, modules = builder.graph(program["graph"])
        root = torch.nn.Module()
        for name, module in modules.items():
            setattr(root, name, module)
        verifiers = [resolve_target(v) for v in program["verifiers"]]
        if not all(isinstance(v, type) and issubclass(v, Verifier) for v in verifiers):
            raise EntryError("a verifier that is not a torch.export Verifier")
        signature = _signature(program["signature"])
        module_call_graph = _module_call_graph(program["module_call_graph"])
        custom = None if program["custom"] is None else json.loads(program["custom"])
        timings["graph"] = time.perf_counter() - start
        start = time.perf_counter()
        with _program_construction(check_graph):
            ep = torch.export.ExportedProgram(
                root=root, graph=graph, graph_signature=signature, state_dict=state_dict, range_constraints={},
                module_call_graph=module_call_graph, example_inputs=example_inputs, constants=constants,
                verifiers=verifiers)
        if custom is not None:
            ep.graph_module.meta["custom"] = custom
        timings["program"] = time.perf_counter() - start
    except EntryError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a malformed graph makes torch raise (its verifier too)
        raise EntryError(f"malformed compact graph: {type(e).__name__}: {e}") from e
    finally:
        if collecting:
            gc.enable()
    return ep
