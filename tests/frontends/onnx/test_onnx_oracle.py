"""Differential oracle: graphcache's ONNX key against onnxruntime (CPU).

For mutations of the libonnx test models and of random generated graphs, both models run in onnxruntime on
the same inputs. Outputs differ while key and weight fingerprint are equal => a false hit (the test fails).
Semantics-preserving rewrites (renaming, node reordering, re-serialization) must keep the key (a changed
key there is a false miss, and fails too). For semantic mutations a changed key with equal outputs is
counted as a miss (legal: e.g. Add's operands swapped), not a failure. Models onnxruntime cannot run are
skipped and counted. Counts per class are printed (pytest -s shows them).
"""

import copy
import json
import os
import random
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import helper, numpy_helper, TensorProto  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
CLI = Path(os.environ.get("GRAPHCACHE_CLI", ROOT / "build" / "src" / "cli" / "graphcache"))
DATA = Path("/usr/share/libonnx-testdata/data")
SAMPLE_EVERY = int(os.environ.get("GRAPHCACHE_ORACLE_SAMPLE", "3"))  # every 3rd model: CI stays short
RANDOM_GRAPHS = int(os.environ.get("GRAPHCACHE_ORACLE_RANDOM", "150"))

pytestmark = pytest.mark.skipif(not CLI.exists(), reason="graphcache CLI not built")


def identity(model, tmp):
    """(key, weight fingerprint) from `graphcache key --json --weights`, or None if the model is refused."""
    path = os.path.join(tmp, "m.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    run = subprocess.run([str(CLI), "key", "--json", "--weights", path], capture_output=True, timeout=60)
    if run.returncode != 0:
        return None
    out = json.loads(run.stdout)
    return out["key"], out["weight_fingerprint"]


def fed_inputs(model):
    """Names of the inputs a caller feeds, in declared order (inputs with an initializer keep its value)."""
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def run_model(model, feeds):
    """Outputs as numpy arrays, or None when onnxruntime cannot load or run it. `feeds` is positional
    (fed_inputs order), so a renamed model gets the same values."""
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return session.run(None, dict(zip(fed_inputs(model), feeds)))
    except Exception:  # noqa: BLE001 - any failure means "cannot run": skipped and counted
        return None


def same_outputs(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.dtype.kind in "fc":
            if not np.array_equal(x, y, equal_nan=True):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


# --- mutations (semantic: may change the result) -----------------------------------------------------------


def perturb_tensor(t):
    a = numpy_helper.to_array(t).copy()
    if a.size == 0 or a.dtype == object:
        return False
    flat = a.reshape(-1)
    if a.dtype == np.bool_:
        flat[0] = not flat[0]
    elif a.dtype.kind in "iu":
        flat[0] = flat[0] + 1 if flat[0] < np.iinfo(a.dtype).max else flat[0] - 1
    else:
        flat[0] = flat[0] * 1.5 + 0.75
    t.CopyFrom(numpy_helper.from_array(a, t.name))
    return True


def all_graphs(graph):
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from all_graphs(attr.g)
            for g in attr.graphs:
                yield from all_graphs(g)


def subgraphs(graph):
    return [g for g in all_graphs(graph) if g is not graph]


def mutate_swap(model, rng):
    nodes = [n for g in all_graphs(model.graph) for n in g.node if len([i for i in n.input if i]) >= 2]
    if not nodes:
        return None
    n = rng.choice(nodes)
    i, j = 0, 1
    if n.input[i] == n.input[j]:
        return None
    n.input[i], n.input[j] = n.input[j], n.input[i]
    return model


def mutate_rewire(model, rng):
    g = model.graph
    types = {v.name: v.type.SerializeToString() for v in g.input}
    candidates = []
    for n in g.node:
        for k, name in enumerate(n.input):
            for other, t in types.items():
                if name in types and other != name and t == types[name]:
                    candidates.append((n, k, other))
    if not candidates:
        return None
    n, k, other = rng.choice(candidates)
    n.input[k] = other
    return model


def mutate_attribute(model, rng, graphs=None):
    attrs = [a for g in (graphs or list(all_graphs(model.graph))) for n in g.node for a in n.attribute
             if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.FLOAT, onnx.AttributeProto.INTS,
                           onnx.AttributeProto.FLOATS, onnx.AttributeProto.TENSOR)]
    if not attrs:
        return None
    a = rng.choice(attrs)
    if a.type == onnx.AttributeProto.INT:
        a.i += 1
    elif a.type == onnx.AttributeProto.FLOAT:
        a.f = a.f * 1.5 + 0.75
    elif a.type == onnx.AttributeProto.INTS and a.ints:
        a.ints[0] += 1
    elif a.type == onnx.AttributeProto.FLOATS and a.floats:
        a.floats[0] = a.floats[0] * 1.5 + 0.75
    elif a.type == onnx.AttributeProto.TENSOR:
        if not perturb_tensor(a.t):
            return None
    else:
        return None
    return model


def mutate_initializer(model, rng, graphs=None):
    inits = [t for g in (graphs or list(all_graphs(model.graph))) for t in g.initializer]
    if not inits:
        return None
    return model if perturb_tensor(rng.choice(inits)) else None


def mutate_opset(model, rng):
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            imp.version += rng.choice([-1, 1])
            return model
    return None


def mutate_subgraph(model, rng):
    subs = subgraphs(model.graph)
    if not subs:
        return None
    return mutate_attribute(model, rng, subs) or mutate_initializer(model, rng, subs)


SEMANTIC = {
    "operand swap": mutate_swap,
    "rewire": mutate_rewire,
    "attribute perturbation": mutate_attribute,
    "constant/initializer edit": mutate_initializer,
    "opset change": mutate_opset,
    "subgraph edit": mutate_subgraph,
}

# --- rewrites (must keep the key) --------------------------------------------------------------------------


def rewrite_rename(model, rng):
    mapping = {}
    for g in all_graphs(model.graph):
        for v in list(g.input) + list(g.output) + list(g.value_info):
            mapping.setdefault(v.name, "r%d_%s" % (len(mapping), v.name))
        for t in g.initializer:
            mapping.setdefault(t.name, "r%d_%s" % (len(mapping), t.name))
        for n in g.node:
            for name in list(n.input) + list(n.output):
                if name:
                    mapping.setdefault(name, "r%d_%s" % (len(mapping), name))
            if n.name:
                n.name = "n_" + n.name
    for g in all_graphs(model.graph):
        for v in list(g.input) + list(g.output) + list(g.value_info):
            v.name = mapping[v.name]
        for t in g.initializer:
            t.name = mapping[t.name]
        for n in g.node:
            n.input[:] = [mapping.get(i, i) if i else i for i in n.input]
            n.output[:] = [mapping.get(o, o) if o else o for o in n.output]
    return model


def rewrite_reorder(model, rng):
    """Another topological order of the top-level nodes (only top-level values constrain it)."""
    g = model.graph
    produced = {o: k for k, n in enumerate(g.node) for o in n.output if o}
    deps = [{produced[i] for i in n.input if i in produced} for n in g.node]
    done, order = set(), []
    while len(order) < len(g.node):
        ready = [k for k in range(len(g.node)) if k not in done and deps[k] <= done]
        if not ready:
            return None  # values captured by bodies make the order unknown here: skip
        k = rng.choice(ready)
        done.add(k)
        order.append(k)
    nodes = [copy.deepcopy(g.node[k]) for k in order]
    del g.node[:]
    g.node.extend(nodes)
    return model


def rewrite_reserialize(model, rng):
    m = onnx.ModelProto()
    m.ParseFromString(model.SerializeToString())
    m.doc_string = "re-serialized"
    m.producer_name = "oracle"
    return m


PRESERVING = {"rename": rewrite_rename, "reorder": rewrite_reorder, "re-serialize": rewrite_reserialize}

# --- inputs ------------------------------------------------------------------------------------------------


def stored_inputs(model_dir, model):
    data = model_dir / "test_data_set_0"
    feeds = []
    if data.is_dir():
        for k in range(len(fed_inputs(model))):
            pb = data / ("input_%d.pb" % k)
            if not pb.exists():
                return None
            t = TensorProto()
            try:
                t.ParseFromString(pb.read_bytes())
                feeds.append(numpy_helper.to_array(t))
            except Exception:  # noqa: BLE001 - sequence/optional inputs: not a TensorProto
                return None
        return feeds
    return None


def libonnx_cases():
    if not DATA.is_dir():
        return []
    paths = sorted(DATA.rglob("model.onnx"))
    return paths[::SAMPLE_EVERY]


ELEMENTWISE_BINARY = ["Add", "Sub", "Mul", "Max", "Min"]
ELEMENTWISE_UNARY = ["Relu", "Neg", "Abs", "Sigmoid", "Tanh"]


def branch(nodes, output, scale):
    """A body reading outer values, with its own 24-element initializer V (a weight slot)."""
    v = numpy_helper.from_array(np.arange(24, dtype=np.float32).reshape(2, 3, 4) * scale, "V")
    return helper.make_graph(nodes, "body", [], [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
                             [v])


def random_graph(seed):
    rng = random.Random(seed)
    values = ["x", "y", "W"]
    nodes = []
    for k in range(rng.randint(2, 8)):
        out = "v%d" % k
        if rng.random() < 0.6:
            op = rng.choice(ELEMENTWISE_BINARY)
            nodes.append(helper.make_node(op, [rng.choice(values), rng.choice(values)], [out]))
        elif rng.random() < 0.5:
            nodes.append(helper.make_node(rng.choice(ELEMENTWISE_UNARY), [rng.choice(values)], [out]))
        else:
            nodes.append(helper.make_node("LeakyRelu", [rng.choice(values)], [out], alpha=rng.choice([0.1, 0.2])))
        values.append(out)
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4) * 0.25 - 1, "W")
    result = values[-1]
    if seed % 2:  # odd seeds: the graph is the then-branch of an If, so subgraph edits have targets
        result = "out"
        nodes = [helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
                 helper.make_node("If", ["c"], [result], then_branch=branch(nodes + [
                     helper.make_node("Add", [values[-1], "V"], ["t_out"])], "t_out", 0.5),
                     else_branch=branch([helper.make_node("Neg", ["x"], ["n"]),
                                         helper.make_node("Add", ["n", "V"], ["e_out"])], "e_out", -0.5))]
    graph = helper.make_graph(
        nodes, "random",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [3, 4]) for n in ("x", "y")],
        [helper.make_tensor_value_info(result, TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    values = np.random.default_rng(seed).standard_normal((2, 3, 4)).astype(np.float32)
    return model, [values[0], values[1]]


def test_oracle_finds_no_false_hits(tmp_path):
    counts = defaultdict(lambda: defaultdict(int))
    false_hits = []
    tmp = str(tmp_path)
    cases = [(p.parent, onnx.load(str(p)), None) for p in libonnx_cases()]
    cases += [(None,) + random_graph(seed) for seed in range(RANDOM_GRAPHS)]
    for index, (model_dir, model, feeds) in enumerate(cases):
        origin = "libonnx" if model_dir is not None else "random"
        if feeds is None:
            feeds = stored_inputs(model_dir, model)
        if feeds is None:
            counts[origin + " (no inputs)"]["skipped"] += 1
            continue
        base_out = run_model(model, feeds)
        base_id = identity(model, tmp)
        if base_out is None or base_id is None or not same_outputs(base_out, run_model(model, feeds) or []):
            counts[origin + " (unrunnable/random)"]["skipped"] += 1
            continue
        for cls, mutate in list(SEMANTIC.items()) + list(PRESERVING.items()):
            rng = random.Random(index * 1000 + len(cls))
            variant = mutate(copy.deepcopy(model), rng)
            c = counts["%s: %s" % (origin, cls)]
            if variant is None:
                continue
            out = run_model(variant, feeds)
            vid = identity(variant, tmp)
            if out is None or vid is None:
                c["skipped"] += 1
                continue
            c["pairs"] += 1
            equal_out = same_outputs(base_out, out)
            if cls in PRESERVING:
                if vid[0] != base_id[0]:
                    c["false misses"] += 1
                    false_hits.append("%s: %s changed the key" % (model_dir or "random", cls))
                continue
            if not equal_out and vid == base_id:
                c["false hits"] += 1
                false_hits.append("%s: %s gave a false hit" % (model_dir or "random", cls))
            elif equal_out and vid != base_id:
                c["misses"] += 1
    print("\nonnx oracle (class: pairs / false hits / false misses / misses with equal outputs / skipped)")
    for cls in sorted(counts):
        c = counts[cls]
        print("  %-45s %5d / %d / %d / %d / %d" % (cls, c["pairs"], c["false hits"], c["false misses"],
                                                   c["misses"], c["skipped"]))
    assert sum(counts[c]["pairs"] for c in counts) > 0
    assert not false_hits, "\n".join(false_hits[:50])
