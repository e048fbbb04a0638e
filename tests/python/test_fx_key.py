"""graphcache.key on real torch.fx / torch.export graphs: invariances and semantic changes.

Models: MLP, CNN, a transformer block and a small Llama-style decoder (random weights), each keyed
through torch.fx.symbolic_trace ("fx") and torch.export ("export").
 - invariance: the same architecture with other attribute names (renamed parameters / modules, other
   definition order) and a re-trace in another process (other hash seed, other weights) keep the key;
 - soundness: the collision pairs of DESIGN.md plus >= 20 more semantic changes each change the key,
   and graphcache.diff explains the change. A count line is printed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import graphcache
from fx_models import CNN, MLP, MODELS, RENAMES, TinyLlama, TransformerBlock, key_of, model_key, tokens

MODES = ("fx", "export")


# ---------------------------------------------------------------------------------------------------
# Invariances
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(MODELS))
def test_renamed_parameters_and_modules_keep_the_key(name, mode):
    make, inputs = MODELS[name]
    torch.manual_seed(0)
    a = key_of(make(), inputs(), mode)
    torch.manual_seed(1)  # other weights too: weight values are not part of the key
    b = key_of(make(RENAMES), inputs(), mode)
    assert a.key == b.key, graphcache.diff(*(torch.export.export(m.eval(), inputs(), strict=False)
                                            for m in (make(), make(RENAMES))))
    assert a.weight_names != b.weight_names  # the names did change...
    assert len(a.weight_names) == len(b.weight_names) > 0  # ...the canonical slots line up one to one


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(MODELS))
def test_retrace_in_another_process_keeps_the_key(name, mode):
    here = model_key(name, mode)
    env = dict(os.environ, PYTHONHASHSEED="12345")
    script = (
        "import json, torch, fx_models as t; torch.manual_seed(7); "
        f"print(json.dumps(t.model_key({name!r}, {mode!r}, renamed=True)))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=os.path.dirname(__file__), env=env,
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == here


def test_symbolic_trace_keeps_its_weight_slot_map_aligned_with_export_names():
    info = key_of(MLP(), (torch.randn(2, 8),), "export")
    assert sorted(info.weight_names) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    assert info.input_names == ["x"] and len(info.output_names) == 1


# ---------------------------------------------------------------------------------------------------
# Semantic changes: each pair must get different keys.
# ---------------------------------------------------------------------------------------------------
class Fn1(nn.Module):
    """A module around a function of its input (and an optional registered state)."""

    def __init__(self, fn, **state):
        super().__init__()
        self.fn = fn
        for k, v in state.items():
            if isinstance(v, nn.Module):
                setattr(self, k, v)
            elif isinstance(v, nn.Parameter):
                self.register_parameter(k, v)
            else:
                self.register_buffer(k, v)

    def forward(self, x):
        return self.fn(self, x)


class Fn2(Fn1):
    def forward(self, x, y):
        return self.fn(self, x, y)


def Fn(fn, **state):
    return (Fn2 if fn.__code__.co_argcount == 3 else Fn1)(fn, **state)


def sub_xy(m, x, y): return torch.sub(x, y)
def sub_yx(m, x, y): return torch.sub(y, x)
def sum0(m, x): return torch.sum(x, dim=0)
def sum1(m, x): return torch.sum(x, dim=1)
def times2(m, x): return x * 2
def times3(m, x): return x * 3
def t01(m, x): return x.transpose(0, 1)
def t12(m, x): return x.transpose(1, 2)
def mean_keep(m, x): return x.mean(-1, keepdim=True)
def mean_nokeep(m, x): return x.mean(-1, keepdim=False)
def softmax_last(m, x): return torch.softmax(x, dim=-1)
def softmax_first(m, x): return torch.softmax(x, dim=0)
def out_ab(m, x): return x.sin(), x.cos()
def out_ba(m, x): return x.cos(), x.sin()
def matmul_ab(m, x, y): return x @ y
def matmul_ba(m, x, y): return y @ x
def cat0(m, x, y): return torch.cat([x, y], dim=0)
def cat1(m, x, y): return torch.cat([x, y], dim=1)
def cat_yx(m, x, y): return torch.cat([y, x], dim=0)
def reshape_a(m, x): return x.reshape(4, -1)
def reshape_b(m, x): return x.reshape(-1, 4)
def add(m, x, y): return x + y
def mul(m, x, y): return x * y
def pow2(m, x): return x.pow(2)
def pow3(m, x): return x.pow(3)
def slice_head(m, x): return x[:, :4]
def slice_tail(m, x): return x[:, 4:]
def split0(m, x): return x.split(4, dim=1)[0]
def split1(m, x): return x.split(4, dim=1)[1]
def clamp0(m, x): return x.clamp(min=0.0)
def clamp1(m, x): return x.clamp(min=-1.0)
def to_half(m, x): return x.to(torch.float16)
def to_bf16(m, x): return x.to(torch.bfloat16)
def use_buf(m, x): return x + m.b
def mean_fn(m, x): return x.mean(dim=1)
def sum_fn(m, x): return x.sum(dim=1)
def neg_zero(m, x): return x + (-0.0)
def pos_zero(m, x): return x + 0.0
def residual(m, x): return x + m.lin(x)
def no_residual(m, x): return m.lin(x)
def relu_then_lin(m, x): return m.lin(torch.relu(x))
def lin_then_relu(m, x): return torch.relu(m.lin(x))


def f32(*shape): return torch.randn(*shape)


def pair(a, b, inputs_a, inputs_b=None, modes=MODES):
    return (a, b, inputs_a, inputs_b or inputs_a, modes)


# name -> (make_a, make_b, inputs_a, inputs_b, modes)
CHANGES = {
    # The held-in collision pairs of DESIGN.md.
    "sub(x,y) vs sub(y,x)": pair(lambda: Fn(sub_xy), lambda: Fn(sub_yx), lambda: (f32(4, 8), f32(4, 8))),
    "sum dim 0 vs 1": pair(lambda: Fn(sum0), lambda: Fn(sum1), lambda: (f32(4, 8),)),
    "x*2 vs x*3": pair(lambda: Fn(times2), lambda: Fn(times3), lambda: (f32(4, 8),)),
    # More semantic changes.
    "transpose dims": pair(lambda: Fn(t01), lambda: Fn(t12), lambda: (f32(2, 3, 4),)),
    "input dtype": pair(lambda: Fn(times2), lambda: Fn(times2), lambda: (f32(4, 8),),
                        lambda: (f32(4, 8).half(),)),
    "input shape": pair(lambda: Fn(times2), lambda: Fn(times2), lambda: (f32(4, 8),), lambda: (f32(5, 8),)),
    "keepdim": pair(lambda: Fn(mean_keep), lambda: Fn(mean_nokeep), lambda: (f32(4, 8),)),
    "activation relu vs gelu": pair(lambda: MLP(act="relu"), lambda: MLP(act="gelu"), lambda: (f32(2, 8),)),
    "gelu approximate": pair(lambda: TransformerBlock(approximate="none"), lambda: TransformerBlock(approximate="tanh"),
                             lambda: (f32(2, 16, 32),)),
    "layernorm eps": pair(lambda: TransformerBlock(eps=1e-5), lambda: TransformerBlock(eps=1e-6),
                          lambda: (f32(2, 16, 32),)),
    "rmsnorm eps": pair(lambda: TinyLlama(eps=1e-6), lambda: TinyLlama(eps=1e-5), lambda: (tokens(),)),
    "weight shape": pair(lambda: MLP(hidden=16), lambda: MLP(hidden=32), lambda: (f32(2, 8),)),
    "tied vs untied weights": pair(lambda: TinyLlama(tied=True), lambda: TinyLlama(tied=False), lambda: (tokens(),)),
    "output order": pair(lambda: Fn(out_ab), lambda: Fn(out_ba), lambda: (f32(4, 8),)),
    "softmax dim": pair(lambda: Fn(softmax_last), lambda: Fn(softmax_first), lambda: (f32(4, 8),)),
    "conv stride": pair(lambda: CNN(stride=1), lambda: CNN(stride=2), lambda: (f32(2, 3, 16, 16),)),
    "conv padding": pair(lambda: CNN(padding=1), lambda: CNN(padding=0), lambda: (f32(2, 3, 16, 16),)),
    "linear bias": pair(lambda: MLP(bias=True), lambda: MLP(bias=False), lambda: (f32(2, 8),)),
    "matmul operand order": pair(lambda: Fn(matmul_ab), lambda: Fn(matmul_ba), lambda: (f32(8, 8), f32(8, 8))),
    "cat dim": pair(lambda: Fn(cat0), lambda: Fn(cat1), lambda: (f32(4, 4), f32(4, 4))),
    "cat operand order": pair(lambda: Fn(cat0), lambda: Fn(cat_yx), lambda: (f32(4, 4), f32(4, 4))),
    "reshape target": pair(lambda: Fn(reshape_a), lambda: Fn(reshape_b), lambda: (f32(8, 8),)),
    "add vs mul": pair(lambda: Fn(add), lambda: Fn(mul), lambda: (f32(4, 8), f32(4, 8))),
    "pow exponent": pair(lambda: Fn(pow2), lambda: Fn(pow3), lambda: (f32(4, 8),)),
    "slice range": pair(lambda: Fn(slice_head), lambda: Fn(slice_tail), lambda: (f32(4, 8),)),
    "split chunk index": pair(lambda: Fn(split0), lambda: Fn(split1), lambda: (f32(4, 8),)),
    "clamp bound": pair(lambda: Fn(clamp0), lambda: Fn(clamp1), lambda: (f32(4, 8),)),
    "cast target dtype": pair(lambda: Fn(to_half), lambda: Fn(to_bf16), lambda: (f32(4, 8),)),
    "buffer dtype": pair(lambda: Fn(use_buf, b=torch.ones(8)), lambda: Fn(use_buf, b=torch.ones(8, dtype=torch.float64)),
                         lambda: (f32(4, 8),)),
    "buffer shape (broadcast)": pair(lambda: Fn(use_buf, b=torch.ones(8)), lambda: Fn(use_buf, b=torch.ones(4, 8)),
                                     lambda: (f32(4, 8),)),
    "mean vs sum": pair(lambda: Fn(mean_fn), lambda: Fn(sum_fn), lambda: (f32(4, 8),)),
    "-0.0 vs 0.0": pair(lambda: Fn(neg_zero), lambda: Fn(pos_zero), lambda: (f32(4, 8),)),
    "residual connection": pair(lambda: Fn(residual, lin=nn.Linear(8, 8)), lambda: Fn(no_residual, lin=nn.Linear(8, 8)),
                                lambda: (f32(4, 8),)),
    "op order": pair(lambda: Fn(relu_then_lin, lin=nn.Linear(8, 8)), lambda: Fn(lin_then_relu, lin=nn.Linear(8, 8)),
                     lambda: (f32(4, 8),)),
    "number of layers": pair(lambda: TinyLlama(layers=2), lambda: TinyLlama(layers=3), lambda: (tokens(),)),
    "causal mask diagonal": pair(lambda: TinyLlama(diagonal=1), lambda: TinyLlama(diagonal=0), lambda: (tokens(),)),
    "attention heads": pair(lambda: TransformerBlock(heads=4), lambda: TransformerBlock(heads=2),
                            lambda: (f32(2, 16, 32),)),
    "token dtype": pair(lambda: TinyLlama(), lambda: TinyLlama(), lambda: (tokens(),),
                        lambda: (tokens(dtype=torch.int32),)),
    "sequence length": pair(lambda: TinyLlama(), lambda: TinyLlama(), lambda: (tokens(t=16),), lambda: (tokens(t=32),)),
    "dropout train vs eval (fx leaf state)": pair(lambda: nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1)).eval(),
                                                  lambda: nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1)).train(),
                                                  lambda: (f32(4, 8),), modes=("fx",)),
    "LeakyReLU slope (fx leaf state)": pair(lambda: nn.Sequential(nn.Linear(8, 8), nn.LeakyReLU(0.01)),
                                            lambda: nn.Sequential(nn.Linear(8, 8), nn.LeakyReLU(0.02)),
                                            lambda: (f32(4, 8),)),
}

RESULTS: dict = {}


def change_keys(name: str, mode: str):
    make_a, make_b, inputs_a, inputs_b, _ = CHANGES[name]
    a_model, b_model = make_a(), make_b()
    if "train" not in name:
        a_model, b_model = a_model.eval(), b_model.eval()
    a_in, b_in = inputs_a(), inputs_b()
    if mode == "fx":
        ga, gb = torch.fx.symbolic_trace(a_model), torch.fx.symbolic_trace(b_model)
        ka, kb = graphcache.key(ga, a_in), graphcache.key(gb, b_in)
        why = graphcache.diff(ga, gb, a_in, b_in)
    else:
        ea = torch.export.export(a_model, a_in, strict=False)
        eb = torch.export.export(b_model, b_in, strict=False)
        ka, kb = graphcache.key(ea), graphcache.key(eb)
        why = graphcache.diff(ea, eb)
    return ka, kb, why


CHANGE_CASES = [(name, mode) for name, spec in CHANGES.items() for mode in spec[4]]


@pytest.mark.parametrize("name,mode", CHANGE_CASES, ids=[f"{n}-{m}" for n, m in CHANGE_CASES])
def test_semantic_change_changes_the_key(name, mode):
    ka, kb, why = change_keys(name, mode)
    RESULTS[(name, mode)] = ka.key != kb.key
    assert ka.key != kb.key, f"{name} ({mode}): same key"
    assert why, f"{name} ({mode}): diff found no difference"


def test_count_of_semantic_changes_detected(capsys):
    for case in CHANGE_CASES:
        if case not in RESULTS:
            ka, kb, _ = change_keys(*case)
            RESULTS[case] = ka.key != kb.key
    detected = sum(bool(v) for v in RESULTS.values())
    distinct_changes = {n for (n, _), v in RESULTS.items() if v}
    line = (f"graphcache fx/export key: {detected}/{len(CHANGE_CASES)} semantic-change cases changed the key "
            f"({len(distinct_changes)} distinct changes incl. the 3 DESIGN.md collision pairs)")
    with capsys.disabled():  # shown in a plain `pytest -q` run, not only with -s
        print("\n" + line)
    assert detected == len(CHANGE_CASES)
    assert len(distinct_changes) >= 23


# ---------------------------------------------------------------------------------------------------
# Settings, toolchain, dynamic shapes and input specs
# ---------------------------------------------------------------------------------------------------
def test_settings_toolchain_and_engine_relevance():
    ep = torch.export.export(MLP().eval(), (f32(2, 8),), strict=False)
    base = graphcache.key(ep, settings={"precision": "fp16", "log_level": 1}, engine_relevant={"precision"})
    assert graphcache.key(ep, settings={"precision": "fp16", "log_level": 3}, engine_relevant={"precision"}).key == base.key
    other = graphcache.key(ep, settings={"precision": "fp32", "log_level": 1}, engine_relevant={"precision"})
    assert other.key != base.key and other.parts["structure"] == base.parts["structure"]
    assert other.parts["settings"] != base.parts["settings"]
    # Typed values: 1 and "1" are different settings.
    assert graphcache.key(ep, settings={"opt": 1}).key != graphcache.key(ep, settings={"opt": "1"}).key
    tool = graphcache.key(ep, settings={"precision": "fp16", "log_level": 1}, engine_relevant={"precision"},
                          toolchain={"tensorrt": "10.3.0"})
    assert tool.key != base.key and tool.parts["toolchain"] != base.parts["toolchain"]
    with pytest.raises(graphcache.InvalidArgumentError, match="reserved"):
        graphcache.key(ep, settings={"graphcache.fx.output_tree": "x"})


def test_export_dynamic_ranges_are_part_of_the_key():
    x = f32(4, 8)

    def export(max_batch):
        dims = ({0: torch.export.Dim("batch", min=2, max=max_batch)},) if max_batch else None
        return torch.export.export(MLP().eval(), (x,), dynamic_shapes=dims, strict=False)

    static, dyn64, dyn128 = graphcache.key(export(None)), graphcache.key(export(64)), graphcache.key(export(128))
    assert len({static.key, dyn64.key, dyn128.key}) == 3
    assert dyn64.parts["structure"] == dyn128.parts["structure"]  # same graph, other profile range
    assert graphcache.key(export(64)).key == dyn64.key
    assert any("dynamic_ranges" in line for line in graphcache.diff(export(64), export(128)))


def test_input_specs_from_example_inputs():
    gm = torch.fx.symbolic_trace(MLP().eval())
    spec = lambda hi: [{"min_shape": (1, 8), "opt_shape": (4, 8), "max_shape": (hi, 8), "dtype": torch.float32}]
    a, b = graphcache.key(gm, spec(16)), graphcache.key(gm, spec(32))
    assert a.key != b.key and a.parts["structure"] == b.parts["structure"]
    assert a.parts["input_specs"] != b.parts["input_specs"]


def test_shape_metadata_from_shape_prop_needs_no_example_inputs():
    from torch.fx.passes.shape_prop import ShapeProp

    gm = torch.fx.symbolic_trace(MLP().eval())
    with pytest.raises(graphcache.InvalidArgumentError, match="no dtype/shape"):
        graphcache.key(gm)
    ShapeProp(gm).propagate(f32(2, 8))
    with_meta = graphcache.key(gm)
    gm2 = torch.fx.symbolic_trace(MLP().eval())
    ShapeProp(gm2).propagate(f32(3, 8))
    assert graphcache.key(gm2).key != with_meta.key


# ---------------------------------------------------------------------------------------------------
# What is refused rather than keyed unsoundly, and structure beyond plain DAGs
# ---------------------------------------------------------------------------------------------------
def test_lambda_targets_are_refused():
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    graph.output(graph.call_function(lambda t: t + 1, (x,)))
    gm = torch.fx.GraphModule(nn.Module(), graph)
    with pytest.raises(graphcache.UnsupportedError, match="lambda"):
        graphcache.key(gm, (f32(2),))


class Scaler:
    def __init__(self, k):
        self.k = k

    def scale(self, t):
        return t * self.k


def test_methods_bound_to_objects_are_refused():
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    graph.output(graph.call_function(Scaler(2).scale, (x,)))  # Scaler(3).scale has the same name
    gm = torch.fx.GraphModule(nn.Module(), graph)
    with pytest.raises(graphcache.UnsupportedError, match="bound to an object"):
        graphcache.key(gm, (f32(2),))


def test_leaf_module_with_hooks_is_refused():
    m = nn.Sequential(nn.Linear(4, 4))
    gm = torch.fx.symbolic_trace(m)
    gm.get_submodule("0").register_forward_hook(lambda mod, i, o: o * 2)
    with pytest.raises(graphcache.UnsupportedError, match="hook"):
        graphcache.key(gm, (f32(2, 4),))


def test_non_graph_inputs_are_rejected_with_a_clear_error():
    with pytest.raises(graphcache.InvalidArgumentError, match="GraphModule or torch.export.ExportedProgram"):
        graphcache.key(MLP(), (f32(2, 8),))


def test_in_place_mutation_order_is_part_of_the_key():
    def before(m, x):
        y = x * 2
        x.add_(1)
        return y

    def after(m, x):
        x.add_(1)
        return x * 2

    ga, gb = torch.fx.symbolic_trace(Fn(before)), torch.fx.symbolic_trace(Fn(after))
    assert graphcache.key(ga, (f32(4),)).key != graphcache.key(gb, (f32(4),)).key


def test_unused_side_effect_nodes_stay_in_the_key():
    def add1(m, x):
        x.add_(1)
        return x

    def add2(m, x):
        x.add_(2)
        return x

    ga, gb = torch.fx.symbolic_trace(Fn(add1)), torch.fx.symbolic_trace(Fn(add2))
    assert graphcache.key(ga, (f32(4),)).key != graphcache.key(gb, (f32(4),)).key


class _Counter(nn.Module):
    """Updates one of two buffers in place, then reads both (scaled differently)."""

    def __init__(self, which: str) -> None:
        super().__init__()
        # 16 elements: above the by-value size for float buffers, so both are weight slots
        self.register_buffer("a", torch.zeros(16))
        self.register_buffer("b", torch.zeros(16))
        self.which = which

    def forward(self, x):
        getattr(self, self.which).add_(x)
        return x + self.a * 2 + self.b * 3


def test_export_which_buffer_is_updated_is_part_of_the_key():
    x = f32(16)
    ka = graphcache.key(torch.export.export(_Counter("a"), (x,)))
    assert ka.key == graphcache.key(torch.export.export(_Counter("a"), (x,))).key
    kb = graphcache.key(torch.export.export(_Counter("b"), (x,)))
    assert ka.key != kb.key  # the update lands on the buffer scaled by 2 in one, by 3 in the other
    assert sorted(ka.weight_names) == ["a", "b"]


def test_control_flow_subgraphs_are_keyed():
    def branchy(then_fn):
        class M(nn.Module):
            def forward(self, x):
                return torch.cond(x.sum() > 0, then_fn, lambda t: t - 1, (x,))

        return torch.export.export(M(), (f32(4),), strict=False)

    plus1, plus2 = branchy(lambda t: t + 1), branchy(lambda t: t + 2)
    assert graphcache.key(plus1).key != graphcache.key(plus2).key
    assert graphcache.key(branchy(lambda t: t + 1)).key == graphcache.key(plus1).key


def test_unlifted_exported_module_and_dynamo_graphs_are_keyed():
    # ExportedProgram.module(): a GraphModule with get_attr weights and a generated input-guard module.
    unlifted = lambda m: torch.export.export(m.eval(), (tokens(),), strict=False).module()
    base = graphcache.key(unlifted(TinyLlama()))
    assert graphcache.key(unlifted(TinyLlama(RENAMES))).key == base.key
    assert graphcache.key(unlifted(TinyLlama(eps=1e-3))).key != base.key

    # A torch.compile backend's GraphModule (Dynamo; meta["example_value"] carries the shapes).
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    torch.compile(MLP().eval(), backend=backend)(f32(2, 8))
    torch.compile(MLP(hidden=32).eval(), backend=backend)(f32(2, 8))
    assert len(graphs) == 2
    assert graphcache.key(graphs[0]).key != graphcache.key(graphs[1]).key


class _Shadowed(nn.Module):
    """A registered parameter `w` of shape (16,) that a class property hides: getattr gives the property."""

    def __init__(self):
        super().__init__()
        self._parameters["w"] = nn.Parameter(torch.ones(16))  # register_parameter would see the class's `w`

    @property
    def w(self):  # noqa: F811 - the property wins over nn.Module.__getattr__, as Python resolves it
        return self._parameters["w"].new_ones(24)


class _Plain(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.w = nn.Parameter(torch.ones(n))


class _CustomGetattr(nn.Module):
    def __init__(self):
        super().__init__()
        self._parameters["w"] = nn.Parameter(torch.ones(16))  # register_parameter would see the class's `w`

    def __getattr__(self, name):
        if name == "w":
            return torch.ones(24)
        return super().__getattr__(name)


def _get_attr_graph(sub: nn.Module) -> torch.fx.GraphModule:
    root = nn.Module()
    root.layers = nn.ModuleList([nn.Module()])
    root.layers[0].inner = sub
    g = torch.fx.Graph()
    w = g.get_attr("layers.0.inner.w")
    g.output(g.call_function(torch.ops.aten.neg.default, (w,)))
    return torch.fx.GraphModule(root, g)


def test_dotted_get_attr_paths_resolve_exactly_as_getattr():
    """The walker resolves `layers.0.inner.w` by dict lookups where that is what getattr does; a class
    property or a custom __getattr__ still decides what the name means (the weight slot's shape here)."""
    short, long = graphcache.key(_get_attr_graph(_Plain(16))).key, graphcache.key(_get_attr_graph(_Plain(24))).key
    assert short != long
    assert graphcache.key(_get_attr_graph(_Shadowed())).key == long
    # `w` sits in _parameters, not in __dict__: Python calls the class's own __getattr__, which answers.
    assert graphcache.key(_get_attr_graph(_CustomGetattr())).key == long
    missing = _get_attr_graph(_Plain(16))
    del missing.get_submodule("layers.0.inner")._parameters["w"]
    with pytest.raises(graphcache.InvalidModelError, match="does not exist"):
        graphcache.key(missing)


def _prefix_sharing_graph(order) -> torch.fx.GraphModule:
    """get_attr targets that share leading segments in every way (a.b.w / a.c.w / ab.w / a.bb.w / a.b.v),
    each a tensor of its own shape, listed in `order`; the output uses them in one fixed order."""
    root = nn.Module()
    root.a, root.ab = nn.Module(), nn.Module()
    root.a.b, root.a.c, root.a.bb = nn.Module(), nn.Module(), nn.Module()
    shapes = {"a.b.w": 1, "a.c.w": 2, "ab.w": 3, "a.bb.w": 4, "a.b.v": 5}
    for target, n in shapes.items():
        *path, name = target.split(".")
        root.get_submodule(".".join(path)).register_parameter(name, nn.Parameter(torch.ones(n)))
    g = torch.fx.Graph()
    nodes = {t: g.get_attr(t) for t in order}
    g.output(tuple(g.call_function(torch.ops.aten.neg.default, (nodes[t],)) for t in shapes))
    return torch.fx.GraphModule(root, g)


def test_get_attr_targets_sharing_prefixes_resolve_to_their_own_tensors():
    """The walker reuses the objects of the previous target's leading segments: whatever order the
    get_attr nodes come in, each target names its own tensor (a wrong object would change a slot's shape
    and so the key)."""
    targets = ["a.b.w", "a.c.w", "ab.w", "a.bb.w", "a.b.v"]
    keys = {graphcache.key(_prefix_sharing_graph(order)).key
            for order in (targets, targets[::-1], ["ab.w", "a.b.v", "a.b.w", "a.bb.w", "a.c.w"])}
    assert len(keys) == 1
    changed = _prefix_sharing_graph(targets)
    changed.a.bb.w = nn.Parameter(torch.ones(6))
    assert graphcache.key(changed).key not in keys


class _IndexBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.register_buffer("ids", torch.arange(4), persistent=False)

    def forward(self, x):
        return self.lin(x) + self.ids


def test_a_model_built_on_the_meta_device_keys_its_small_buffers_as_slots():
    """A meta tensor has no value to key by (HF models built from a config on the meta device): the
    integer buffer that a real model keys by value is a weight slot there, by dtype and shape."""
    with torch.device("meta"):
        meta_model = _IndexBuffer()
    ep = torch.export.export(meta_model, (torch.zeros(2, 4, device="meta"),))
    info = graphcache.key(ep)
    assert "ids" in info.weight_names
    real = graphcache.key(torch.export.export(_IndexBuffer(), (torch.zeros(2, 4),)))
    assert "ids" not in real.weight_names  # keyed by value on a real device
