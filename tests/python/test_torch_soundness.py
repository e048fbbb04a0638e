"""Issue 11 classes, one test each: what changes what a compiled artifact computes must change the key
(calling convention, layouts, devices, default dtype, constants by value, random ops, user code, dict
order, out= writes), and what does not (dead pure nodes, float weight values) must not."""

import collections

import pytest
import torch
import torch.fx
from torch import nn

import graphcache
from graphcache import aoti

torch.manual_seed(0)


def export_key(module, *args, **kw):
    return graphcache.key(torch.export.export(module, args, **kw)).key


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


# --- 2. calling convention --------------------------------------------------------------------------

Pair = collections.namedtuple("Pair", "a b")


def test_output_pytree_structure_is_keyed():
    x = torch.randn(4)
    keys = {
        export_key(Fn(lambda x: {"a": x + 1, "b": x * 2}), x),
        export_key(Fn(lambda x: {"b": x * 2, "a": x + 1}), x),  # other leaf order
        export_key(Fn(lambda x: {"b": x + 1, "a": x * 2}), x),  # same leaves, other key order
        export_key(Fn(lambda x: (x + 1, x * 2)), x),
        export_key(Fn(lambda x: [x + 1, x * 2]), x),
        export_key(Fn(lambda x: Pair(x + 1, x * 2)), x),
    }
    assert len(keys) == 6


def test_input_memory_format_and_strides_are_keyed():
    m = nn.Conv2d(3, 4, 3)
    x = torch.randn(2, 3, 8, 8)
    k_contiguous = export_key(m, x)
    assert k_contiguous == export_key(m, x.clone())
    assert k_contiguous != export_key(m, x.to(memory_format=torch.channels_last))
    y = torch.randn(8, 4)
    assert export_key(Fn(torch.relu), y) != export_key(Fn(torch.relu), torch.randn(4, 8).t())
    # symbolic_trace graphs: the example inputs' layout
    gm = torch.fx.symbolic_trace(m)
    assert graphcache.key(gm, (x,)).key != graphcache.key(gm, (x.to(memory_format=torch.channels_last),)).key


# --- 3. device and global compile state --------------------------------------------------------------


def test_device_of_a_parameter_free_program_is_keyed():
    x = torch.randn(4)
    k_cpu = export_key(Fn(torch.relu), x)
    k_meta = export_key(Fn(torch.relu), torch.empty(4, device="meta"))
    assert k_cpu != k_meta
    ep = torch.export.export(Fn(torch.relu), (torch.empty(4, device="meta"),))
    assert aoti.program_device(ep) == "meta"


class Factory(nn.Module):
    def forward(self, x):
        return x + torch.zeros(4).sum()


def test_factory_dtype_recorded_by_export_is_keyed():
    x = torch.randn(4, dtype=torch.float64)
    k32 = export_key(Factory(), x)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        k64 = export_key(Factory(), x)
    finally:
        torch.set_default_dtype(old)
    assert k32 != k64


def test_global_inductor_config_is_an_aoti_setting():
    import torch._inductor.config as inductor_config

    ep = torch.export.export(Fn(torch.relu), (torch.randn(4),))
    before = aoti.aoti_settings(ep)
    old = inductor_config.max_autotune
    inductor_config.max_autotune = not old
    try:
        assert aoti.aoti_settings(ep) != before
    finally:
        inductor_config.max_autotune = old
    assert aoti.aoti_settings(ep) == before
    assert aoti.weight_stripped_configs()["always_keep_tensor_constants"] is True


# --- 4. constants by value ---------------------------------------------------------------------------


class Gather(nn.Module):
    def __init__(self, idx, scale=None):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.register_buffer("idx", torch.tensor(idx))
        self.scale = scale

    def forward(self, x):
        y = self.fc(x)[:, self.idx]
        if self.scale is not None:
            y = y * torch.tensor(self.scale)  # a lifted constant
        return y


def test_integer_buffers_and_lifted_constants_are_keyed_by_value():
    x = torch.randn(2, 6)
    base = export_key(Gather([0, 2, 4]), x)
    assert base == export_key(Gather([0, 2, 4]), x)  # new float weights: same key
    assert base != export_key(Gather([4, 2, 0]), x)
    assert export_key(Gather([0], [1.0, 2.0]), x) != export_key(Gather([0], [2.0, 1.0]), x)
    info = graphcache.key(torch.export.export(Gather([0, 2, 4]), (x,)))
    assert sorted(info.weight_names) == ["fc.bias", "fc.weight"]  # idx is a value, not a slot


def test_small_float_buffers_are_keyed_by_value_parameters_stay_slots():
    x = torch.randn(2, 4)
    a, b = nn.BatchNorm1d(4).eval(), nn.BatchNorm1d(4).eval()
    b.running_mean.fill_(3.0)
    assert export_key(a, x) != export_key(b, x)  # 4-element buffer: what Inductor would inline
    p, q = nn.PReLU(1), nn.PReLU(1)
    with torch.no_grad():
        q.weight.fill_(0.9)
    assert export_key(p, x) == export_key(q, x)  # a parameter: a refittable slot


# --- 5. random ops -----------------------------------------------------------------------------------


class Drop(nn.Module):
    def __init__(self, twice):
        super().__init__()
        self.drop, self.twice = nn.Dropout(0.5), twice

    def forward(self, x):
        if self.twice:
            return self.drop(x) + self.drop(x)
        r = self.drop(x)
        return r + r


def test_random_nodes_are_never_merged():
    x = torch.randn(4)
    two_draws = export_key(Fn(lambda x: torch.randn_like(x) + torch.randn_like(x)), x)
    one_draw = export_key(Fn(lambda x: (lambda r: r + r)(torch.randn_like(x))), x)
    assert two_draws != one_draw
    gm2 = torch.fx.symbolic_trace(Drop(twice=True).train())
    gm1 = torch.fx.symbolic_trace(Drop(twice=False).train())
    assert graphcache.key(gm2, (x,)).key != graphcache.key(gm1, (x,)).key


# --- 6. user code ------------------------------------------------------------------------------------


def _define_user_fn(body: str):
    namespace = {"torch": torch}
    exec(f"def user_fn(x):\n    return {body}\n", namespace)
    fn = namespace["user_fn"]
    fn.__module__, fn.__qualname__ = __name__, "user_fn"
    return fn


def _trace_calling(fn):
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    graph.output(graph.call_function(fn, (x,)))
    return torch.fx.GraphModule(nn.Module(), graph)


def test_user_functions_are_keyed_by_their_code():
    x = torch.randn(4)
    k1 = graphcache.key(_trace_calling(_define_user_fn("x + 1")), (x,)).key
    assert k1 == graphcache.key(_trace_calling(_define_user_fn("x + 1")), (x,)).key
    assert k1 != graphcache.key(_trace_calling(_define_user_fn("x + 2")), (x,)).key
    assert k1 != graphcache.key(_trace_calling(_define_user_fn("torch.relu(x) + 1")), (x,)).key


GLOBAL_TABLE = torch.arange(4.0)


def reads_a_global_tensor(x):
    return x + GLOBAL_TABLE


def test_user_code_that_cannot_be_identified_is_refused_unless_versioned():
    x = torch.randn(4)
    with pytest.raises(graphcache.UnsupportedError, match="__graphcache_version__"):
        graphcache.key(_trace_calling(reads_a_global_tensor), (x,))
    reads_a_global_tensor.__graphcache_version__ = "1"
    try:
        k1 = graphcache.key(_trace_calling(reads_a_global_tensor), (x,)).key
        reads_a_global_tensor.__graphcache_version__ = "2"
        assert k1 != graphcache.key(_trace_calling(reads_a_global_tensor), (x,)).key
    finally:
        del reads_a_global_tensor.__graphcache_version__


def _leaf_class(offset: float):
    class Leaf(nn.Module):
        def forward(self, x):
            return x + offset

    Leaf.__module__, Leaf.__qualname__ = __name__, "Leaf"
    return Leaf


class LeafTracer(torch.fx.Tracer):
    def is_leaf_module(self, m, qualname):
        return type(m).__qualname__ == "Leaf" or super().is_leaf_module(m, qualname)


def test_user_leaf_modules_are_keyed_by_their_code():
    x = torch.randn(4)

    def key_of(leaf):
        root = nn.Sequential(leaf)
        return graphcache.key(torch.fx.GraphModule(root, LeafTracer().trace(root)), (x,)).key

    assert key_of(_leaf_class(1.0)()) == key_of(_leaf_class(1.0)())
    assert key_of(_leaf_class(1.0)()) != key_of(_leaf_class(2.0)())  # same name, other closure value


# --- 7. smaller --------------------------------------------------------------------------------------


def cat_values(d):
    return torch.cat(list(d.values()))


def test_dict_arguments_keep_their_order():
    def build(order):
        graph = torch.fx.Graph()
        a, b = graph.placeholder("a"), graph.placeholder("b")
        items = {"a": a, "b": b}
        graph.output(graph.call_function(cat_values, ({k: items[k] for k in order},)))
        return torch.fx.GraphModule(nn.Module(), graph)

    x, y = torch.randn(2), torch.randn(3)
    assert graphcache.key(build("ab"), (x, y)).key != graphcache.key(build("ba"), (x, y)).key


def test_out_writes_are_mutations_and_dead_pure_nodes_do_not_change_the_key():
    def build(extra):
        graph = torch.fx.Graph()
        x, y = graph.placeholder("x"), graph.placeholder("y")
        if extra == "out":
            graph.call_function(torch.add, (x, 1), {"out": y})
        elif extra == "dead":
            graph.call_function(torch.mul, (x, 2))
        graph.output(y)
        return torch.fx.GraphModule(nn.Module(), graph)

    x, y = torch.randn(3), torch.randn(3)
    plain = graphcache.key(build(None), (x, y)).key
    assert graphcache.key(build("dead"), (x, y)).key == plain
    assert graphcache.key(build("out"), (x, y)).key != plain


def test_custom_ops_key_their_schema():
    lib = torch.library.Library("gc_soundness", "FRAGMENT")
    lib.define("scale(Tensor x, float s=2.0) -> Tensor")
    lib.impl("scale", lambda x, s=2.0: x * s, "CompositeExplicitAutograd")
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    graph.output(graph.call_function(torch.ops.gc_soundness.scale.default, (x,)))
    gm = torch.fx.GraphModule(nn.Module(), graph)
    # the schema string is an attribute of the node: diff shows it against an otherwise equal node
    lines = graphcache.diff(gm, _trace_calling(torch.relu), (torch.randn(2),), (torch.randn(2),))
    assert lines
    assert graphcache.key(gm, (torch.randn(2),)).key == graphcache.key(gm, (torch.randn(2),)).key


class MatW(nn.Module):
    def __init__(self, transposed):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 8).t() if transposed else torch.randn(8, 4))

    def forward(self, x):
        return x @ self.w


def test_weight_strides_are_keyed_weight_values_are_not():
    x = torch.randn(2, 8)
    contiguous = export_key(MatW(False), x)
    assert contiguous == export_key(MatW(False), x)
    assert contiguous != export_key(MatW(True), x)  # Inductor indexes the constant with its strides
    assert graphcache.key(torch.export.export(MatW(True), (x,))).weight_names == ["w"]
    gm = torch.fx.symbolic_trace(MatW(True))
    assert graphcache.key(gm, (x,)).key != graphcache.key(torch.fx.symbolic_trace(MatW(False)), (x,)).key


def test_graph_module_calling_convention_is_keyed():
    x = torch.randn(4)
    dict_ab = torch.export.export(Fn(lambda x: {"a": x + 1, "b": x * 2}), (x,)).module()
    dict_ba = torch.export.export(Fn(lambda x: {"b": x + 1, "a": x * 2}), (x,)).module()
    assert graphcache.key(dict_ab).key != graphcache.key(dict_ba).key

    class Named(nn.Module):
        def __init__(self, named):
            super().__init__()
            self.named = named

        def forward(self, x):
            return Pair(x + 1, x * 2) if self.named else (x + 1, x * 2)

    plain = torch.fx.symbolic_trace(Named(False))
    named = torch.fx.symbolic_trace(Named(True))
    assert graphcache.key(plain, (x,)).key != graphcache.key(named, (x,)).key


def test_user_code_digest_follows_called_user_functions_and_accepts_loggers():
    from graphcache import _code_identity

    helper = _define_user_fn("x * 3")
    namespace = {"helper": helper, "logging": __import__("logging")}
    exec("log = logging.getLogger('gc')\ndef outer(x):\n    log.debug('hi')\n    return helper(x)\n", namespace)
    digest = _code_identity.fingerprint(namespace["outer"])
    namespace["helper"] = _define_user_fn("x * 4")  # same caller, the function it calls changed
    assert _code_identity.fingerprint(namespace["outer"]) != digest


def test_tensor_constants_in_arguments_are_keyed_by_value():
    def build(values):
        graph = torch.fx.Graph()
        x = graph.placeholder("x")
        graph.output(graph.call_function(torch.index_select, (x, 0, torch.tensor(values))))
        return torch.fx.GraphModule(nn.Module(), graph)

    x = torch.randn(4)
    assert graphcache.key(build([0, 1]), (x,)).key == graphcache.key(build([0, 1]), (x,)).key
    assert graphcache.key(build([0, 1]), (x,)).key != graphcache.key(build([1, 0]), (x,)).key


def test_sympy_functions_are_not_renumbered_like_symbols():
    gm = _trace_calling(torch.relu)

    def key_for(expr):
        return graphcache.key(gm, [{"shape": (expr,), "dtype": torch.float32}]).key

    assert key_for("Max(s0, s1)") != key_for("Min(s0, s1)")
    assert key_for("Max(s0, s1)") == key_for("Max(s3, s4)")  # symbols still canonical
