"""The export cache's compact graph form (export_graph.py / export_graph_load.py): it rebuilds the very
program torch.export made, and a damaged, malformed or unknown-version graph is a miss with a reason -
never a crash, never another program."""

from __future__ import annotations

import copy
import hashlib
import json
import random

import pytest
import torch
from torch import nn

import graphcache
from graphcache import blob_codec, export_graph, export_graph_load, export_store
from graphcache.engine_cache import EngineCache
from graphcache.export_cache import export_cached


class Block(nn.Module):
    """Linear, conv + batch norm, a tensor made in forward, a multi-output op (getitem nodes), a subgraph
    (torch.no_grad inside forward: a wrap_with_set_grad_enabled higher-order op), kwargs and dtypes."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)

    def forward(self, x, image):
        a, b = torch.split(self.fc(x), 4, dim=-1)
        with torch.no_grad():
            c = torch.cos(a).to(torch.float64)
        y = self.bn(self.conv(image)).mean(dim=(2, 3), keepdim=False)
        return torch.cat([a * 2.5, b + torch.tensor([1.0, -1.0, 0.5, 0.0])], dim=-1), c, y.sum()


X = torch.randn(3, 8)
IMAGE = torch.randn(1, 2, 5, 5)


def _exported():
    torch.manual_seed(0)
    model = Block().eval()
    return model, torch.export.export(model, (X, IMAGE))


def test_compact_form_rebuilds_the_exported_program():
    model, ep = _exported()
    data = export_graph.encode(ep)
    rebuilt = export_graph_load.load(data, dict(ep.state_dict), dict(ep.constants), ((X, IMAGE), {}))
    assert export_graph.same_program(rebuilt, ep) is None
    assert graphcache.key(rebuilt).key == graphcache.key(ep).key
    assert rebuilt.example_inputs[0][0] is X
    assert any(n.op == "get_attr" for n in rebuilt.graph.nodes)  # the no_grad subgraph came back
    # Values shared in the exported graph (the no_grad subgraph's results are its getitems') stay shared.
    hop = next(n for n in rebuilt.graph.nodes if isinstance(n.target, torch._ops.HigherOrderOperator))
    assert any(u.meta["val"] is hop.meta["val"][u.args[1]] for u in hop.users)
    with torch.no_grad():
        for got, expected in zip(rebuilt.module()(X, IMAGE), model(X, IMAGE)):
            torch.testing.assert_close(got, expected)
    assert "def forward" in rebuilt.graph_module.code  # generated on first use


def test_same_program_finds_a_difference():
    _, ep = _exported()
    rebuilt = export_graph_load.load(export_graph.encode(ep), dict(ep.state_dict), dict(ep.constants))
    node = next(n for n in rebuilt.graph.nodes if n.target is torch.ops.aten.mul.Tensor)
    node.args = (node.args[0], 3.5)
    assert "arguments differ" in export_graph.same_program(rebuilt, ep)
    rebuilt = export_graph_load.load(export_graph.encode(ep), dict(ep.state_dict), dict(ep.constants))
    node = next(n for n in rebuilt.graph.nodes if "nn_module_stack" in n.meta)
    node.meta["nn_module_stack"] = {}
    assert "nn_module_stack" in export_graph.same_program(rebuilt, ep)
    rebuilt = export_graph_load.load(export_graph.encode(ep), dict(ep.state_dict), dict(ep.constants))
    hop = next(n for n in rebuilt.graph.nodes if isinstance(n.target, torch._ops.HigherOrderOperator))
    user = next(iter(hop.users))
    user.meta["val"] = user.meta["val"].clone()  # same metadata, no longer the producer's own value
    assert "shared differently" in export_graph.same_program(rebuilt, ep)


def test_symbolic_shapes_are_stored_in_torch_form_and_still_hit(tmp_path):
    model = nn.Linear(8, 8)
    batch = torch.export.Dim("batch", min=2, max=32)
    miss = export_cached(model, (X,), dynamic_shapes=({0: batch},), cache=tmp_path)
    header = blob_codec.decode(EngineCache(tmp_path).store.get(miss.key)[0])[0]
    assert header["graph"]["form"] == export_store.TORCH_FORM and "symbolic" in header["graph"]["note"]
    hit = export_cached(model, (X,), dynamic_shapes=({0: batch},), cache=tmp_path)
    assert hit.hit and hit.program.range_constraints
    other_batch = torch.randn(5, 8)
    torch.testing.assert_close(hit.program.module()(other_batch), model(other_batch))


def _stored(tmp_path):
    torch.manual_seed(0)
    model = Block().eval()
    miss = export_cached(model, (X, IMAGE), cache=tmp_path)
    assert miss.stored, miss.reason
    store = EngineCache(tmp_path).store
    values = list(blob_codec.decode(store.get(miss.key)[0]))
    assert values[0]["graph"]["form"] == export_graph.GRAPH_FORM
    return model, miss.key, store, values


def _put(store, key, values, graph_bytes, fix_digest=True):
    values = list(values)
    values[0] = copy.deepcopy(values[0])
    values[1] = graph_bytes
    if fix_digest:  # a consistent entry whose graph is malformed: the loader itself must refuse it
        values[0]["graph"]["sha256"] = hashlib.sha256(graph_bytes).hexdigest()
    store.put(key, blob_codec.encode(values), None)


def _assert_miss_then_correct(tmp_path, model, words):
    again = export_cached(model, (X, IMAGE), cache=tmp_path)
    assert not again.hit and "unusable entry" in again.reason and words in again.reason, again.reason
    assert again.stored  # rewritten
    with torch.no_grad():
        for got, expected in zip(again.program.module()(X, IMAGE), model(X, IMAGE)):
            torch.testing.assert_close(got, expected)
    assert export_cached(model, (X, IMAGE), cache=tmp_path).hit


def test_a_damaged_graph_is_a_miss_by_its_digest(tmp_path):
    model, key, store, values = _stored(tmp_path)
    graph = bytearray(values[1])
    position = bytes(graph).index(b'"aten","mul"')
    graph[position + 8:position + 11] = b"sub"  # a different, valid operator: only the digest can tell
    _put(store, key, values, bytes(graph), fix_digest=False)
    _assert_miss_then_correct(tmp_path, model, "digest")


def _mutated(values, change):
    program = json.loads(values[1])
    change(program)
    return json.dumps(program).encode()


def _rename_subgraph(program, name):
    get_attr = _first_node(program, 2)
    program["graph"]["modules"][name] = program["graph"]["modules"].pop(get_attr[2])
    get_attr[2] = name


def _first_node(program, op_index):
    return next(n for n in program["graph"]["nodes"] if n[0] == op_index)


MALFORMED = {
    "other form version": (lambda p: p.update(form="graphcache.export-graph.v0"), "not a"),
    "unknown operator": (lambda p: p["targets"].__setitem__(0, ["op", "aten", "no_such_op", "default"]),
                         "no_such_op"),
    "untrusted module": (lambda p: p["targets"].__setitem__(0, ["py", "os", "system"]), "trusted"),
    "node refers forward": (lambda p: p["graph"]["nodes"][-1].__setitem__(3, [{"n": 10 ** 6}]), "earlier"),
    "negative tensor index": (lambda p: _first_node(p, 1).__setitem__(5, -1), "out of range"),
    "unknown argument tag": (lambda p: _first_node(p, 1).__setitem__(3, [{"zz": 1}]), "unknown argument tag"),
    "unknown dtype": (lambda p: p["tensors"][0].__setitem__(0, "float128"), "dtype"),
    "duplicate node name": (lambda p: p["graph"]["nodes"][1].__setitem__(1, p["graph"]["nodes"][0][1]),
                            "not unique"),
    "missing table": (lambda p: p.pop("metas"), "metas"),
    "subgraph name": (lambda p: _rename_subgraph(p, "../x"), "no stored subgraph"),
    "verifier": (lambda p: p["verifiers"].__setitem__(0, ["py", "torch.nn", "Linear"]), "verifier"),
}


@pytest.mark.parametrize("damage", sorted(MALFORMED))
def test_a_malformed_compact_graph_is_a_miss(tmp_path, damage):
    change, words = MALFORMED[damage]
    model, key, store, values = _stored(tmp_path)
    _put(store, key, values, _mutated(values, change))
    _assert_miss_then_correct(tmp_path, model, words)


def test_an_unknown_graph_form_is_a_miss(tmp_path):
    model, key, store, values = _stored(tmp_path)
    values[0]["graph"]["form"] = "graphcache.export-graph.v9"
    store.put(key, blob_codec.encode(values), None)
    _assert_miss_then_correct(tmp_path, model, "unknown graph form")


def test_random_damage_never_crashes_the_loader():
    """Any leaf of the compact JSON replaced by another value: load() builds a program or raises EntryError."""
    _, ep = _exported()
    program = json.loads(export_graph.encode(ep))
    leaves = []

    def collect(obj, path):
        items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else None
        if items is None:
            leaves.append(path)
            return
        for k, v in items:
            collect(v, path + [k])

    collect(program, [])
    rng = random.Random(19)
    replacements = [None, -1, 0, 7, 10 ** 9, 2.5, "", "x", [], {}, {"n": 0}, {"t": 3}, True, ["op"]]
    outcomes = {"built": 0, "refused": 0}
    for _ in range(300):
        damaged = copy.deepcopy(program)
        path = rng.choice(leaves)
        obj = damaged
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = rng.choice(replacements)
        try:
            result = export_graph_load.load(json.dumps(damaged).encode(), dict(ep.state_dict), dict(ep.constants))
        except export_graph.EntryError:
            outcomes["refused"] += 1
        else:
            assert isinstance(result, torch.export.ExportedProgram)
            outcomes["built"] += 1
    assert outcomes["refused"] > 100 and outcomes["built"] > 0, outcomes


def test_a_rebuilt_program_compiles_with_aotinductor(tmp_path):
    """An export-cache hit whose engine is not cached yet: AOTInductor compiles the rebuilt program (lazy
    graph modules, FakeTensors made here) to the eager outputs."""
    from graphcache import aoti

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4)).eval()
    x = torch.randn(2, 8)
    cache = EngineCache(tmp_path)
    assert export_cached(model, (x,), cache=cache).stored
    result = aoti.get_or_compile(cache, model, (x,))
    assert "export_hit" in result.timings and "compile" in result.timings
    with torch.no_grad():
        torch.testing.assert_close(result.runner(x), model(x), rtol=1e-4, atol=1e-4)
