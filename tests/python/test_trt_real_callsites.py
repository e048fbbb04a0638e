"""GraphcacheTRTEngineCache driven by the installed torch_tensorrt 2.13.0's own cache call sites.

Driven: torch_tensorrt.dynamo.conversion._conversion.interpret_module_to_result (which calls
engine_cache.get_hash, pull_cached_engine -> engine_cache.check + settings_are_compatible +
Input.equivalent_spec, and insert_engine_to_cache -> engine_cache.check + engine_cache.insert), on
subgraphs produced by torch_tensorrt's real lowering (pre_export_lowering, get_decompositions,
post_lowering) and partitioner (partitioning.fast_partition, construct_submodule_inputs).

Stood in (see tests/python/trt_standin/__init__.py for the full list): the `tensorrt` package (version,
enums, IHostMemory), CUDA queries made while torch_tensorrt imports on this CPU-only torch, and
TRTInterpreter (the TensorRT build), replaced by trt_standin.Interpreter which returns a
TRTInterpreterResult whose engine serializes to an IHostMemory (buffer protocol, not bytes).
Most cache hits use strip_engine_weights=True, where pull_cached_engine returns the cached engine without
TensorRT; one test takes the default refit path with trt.Runtime and the TensorRT refit stood in.
"""

import dataclasses
import logging

import pytest
import torch
from torch import nn

import trt_standin

try:
    trt_standin.import_torch_tensorrt()
except ImportError as e:  # torch_tensorrt not installed (pip install --no-deps -r python/requirements-trt.txt)
    pytest.skip(f"torch_tensorrt unavailable: {e}", allow_module_level=True)

from torch_tensorrt.dynamo import partitioning  # noqa: E402
from torch_tensorrt.dynamo._engine_cache import BaseEngineCache  # noqa: E402
from torch_tensorrt.dynamo._settings import CompilationSettings, settings_are_compatible  # noqa: E402
from torch_tensorrt.dynamo.conversion import _conversion  # noqa: E402
from torch_tensorrt.dynamo.lowering import get_decompositions, post_lowering, pre_export_lowering  # noqa: E402

from graphcache import torch_tensorrt_cache as ttc  # noqa: E402


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x))) * 2


class MLPTransposedWeight(nn.Module):
    """A weight used through a transpose: after constant folding the subgraph holds a strided tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(16, 8))

    def forward(self, x):
        return torch.relu(x @ self.w.t()) - 1


def settings_for(**overrides):
    base = dict(min_block_size=1, cache_built_engines=True, reuse_cached_engines=True, immutable_weights=False,
                strip_engine_weights=True)
    base.update(overrides)
    return CompilationSettings(**base)


def trt_subgraphs(model, settings, example=(torch.randn(2, 8),)):
    """(submodule, Input specs) for each TensorRT subgraph, via torch_tensorrt's lowering + partitioner."""
    ep = torch.export.export(model.eval(), example)
    ep = pre_export_lowering(ep, settings)
    ep = ep.run_decompositions(get_decompositions(settings.enable_experimental_decompositions))
    gm = post_lowering(ep.module(), settings)
    parted, _ = partitioning.fast_partition(gm, min_block_size=settings.min_block_size,
                                            torch_executed_ops=settings.torch_executed_ops)
    subs = [(getattr(parted, n), partitioning.construct_submodule_inputs(getattr(parted, n)))
            for n, _ in parted.named_children() if "_run_on_acc" in n]
    assert subs, "the partitioner produced no TensorRT subgraph"
    return subs


@pytest.fixture(autouse=True)
def interpreter(monkeypatch):
    monkeypatch.setattr(_conversion, "TRTInterpreter", trt_standin.Interpreter)
    trt_standin.Interpreter.built = []
    return trt_standin.Interpreter


@pytest.fixture
def cache(tmp_path):
    return ttc.GraphcacheTRTEngineCache(str(tmp_path / "engines"), 1 << 30)


def compile_all(subs, settings, cache):
    return [_conversion.interpret_module_to_result(sub, specs, settings, engine_cache=cache) for sub, specs in subs]


def same(a, b):
    """Equality, and for objects without __eq__ (torch_tensorrt.Device) equal fields."""
    if type(a).__eq__ is object.__eq__ and hasattr(a, "__dict__"):
        return type(a) is type(b) and vars(a) == vars(b)
    return a == b


def test_is_a_base_engine_cache():
    assert issubclass(ttc.GraphcacheTRTEngineCache, BaseEngineCache)


def test_first_compile_stores_the_ihostmemory_engine_and_the_second_hits(cache, interpreter):
    settings = settings_for()
    subs = trt_subgraphs(MLP(), settings)
    first = compile_all(subs, settings, cache)
    assert len(interpreter.built) == len(subs)
    import tensorrt

    assert isinstance(trt_standin.FakeEngine(b"x").serialize(), tensorrt.IHostMemory)  # not bytes
    second = compile_all(trt_subgraphs(MLP(), settings), settings, cache)
    assert len(interpreter.built) == len(subs)  # nothing rebuilt: every subgraph came from the cache
    for a, b in zip(first, second):
        assert bytes(b.serialized_engine) == bytes(a.serialized_engine)
        assert list(b.input_names) == list(a.input_names) and list(b.output_names) == list(a.output_names)


def test_a_different_graph_misses(cache, interpreter):
    settings = settings_for()
    compile_all(trt_subgraphs(MLP(), settings), settings, cache)
    n = len(interpreter.built)
    compile_all(trt_subgraphs(MLPTransposedWeight(), settings), settings, cache)
    assert len(interpreter.built) > n


def test_entries_record_factors_and_a_miss_is_explained(cache, interpreter, caplog):
    """Issue 16: the class's entries record their key factors (from the subgraph get_hash keyed, held
    weakly), so a later miss names what differs; check() logs it at INFO, explain(hash) returns it."""
    first = settings_for(optimization_level=3)
    compile_all(trt_subgraphs(MLP(), first), first, cache)
    caplog.set_level(logging.INFO, logger="graphcache")
    second = settings_for(optimization_level=5)
    subs = trt_subgraphs(MLP(), second)
    compile_all(subs, second, cache)
    assert "setting trt.optimization_level:" in caplog.text, caplog.text
    third = settings_for(optimization_level=4)  # not compiled: explain a would-be miss
    h = ttc.GraphcacheTRTEngineCache.get_hash(subs[0][0], subs[0][1], third)
    e = cache.explain(h)
    assert e.result == "same_structure", e
    assert [d["name"] for d in e.differences] == ["trt.optimization_level"]
    assert e.candidates[0]["model"].startswith("torch_tensorrt subgraph")


def test_every_stored_setting_round_trips_and_is_compatible(cache):
    settings = settings_for(torch_executed_ops={torch.ops.aten.relu.default, "torch.ops.aten.mul.Tensor"},
                            autocast_excluded_ops={torch.ops.aten.add.Tensor},
                            autocast_excluded_nodes={"fc1"}, optimization_level=3,
                            workspace_size=1 << 20, max_aux_streams=2)
    sub, specs = trt_subgraphs(MLP(), settings_for())[0]
    h = cache.get_hash(sub, specs, settings)
    assert h is not None
    entry = (trt_standin.FakeEngine(b"engine" * 100).serialize(), ["x"], ["output0"], specs, settings, False, False)
    cache.insert(h, entry)
    got = cache.check(h)
    assert bytes(got[0]) == b"engine" * 100
    assert isinstance(got[4], CompilationSettings)
    for field in dataclasses.fields(CompilationSettings):
        assert same(getattr(got[4], field.name), getattr(settings, field.name)), field.name
    assert settings_are_compatible(settings, got[4]) == (True, set())
    assert all(type(i).__name__ == "Input" for i in got[3])
    from torch_tensorrt import Input

    assert all(Input.equivalent_spec(a, b) for a, b in zip(got[3], specs))


def test_a_calibration_data_loader_disables_caching_without_an_exception(cache, interpreter, caplog):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 8)), batch_size=2)
    settings = settings_for(enable_autocast=True, autocast_calibration_dataloader=loader)
    subs = trt_subgraphs(MLP(), settings_for())
    with caplog.at_level(logging.WARNING):
        compile_all(subs, settings, cache)
        compile_all(subs, settings, cache)
    assert len(interpreter.built) == 2 * len(subs)
    assert "data loader" in caplog.text
    assert list(cache.cache.store.list()) == []


def test_refit_identical_binds_real_linear_weights_including_strided_ones(cache, interpreter):
    settings = settings_for(refit_identical_engine_weights=True)
    for model_type in (MLP, MLPTransposedWeight):
        torch.manual_seed(0)
        subs_a = trt_subgraphs(model_type(), settings)
        torch.manual_seed(0)
        subs_a2 = trt_subgraphs(model_type(), settings)
        torch.manual_seed(1)
        subs_b = trt_subgraphs(model_type(), settings)
        ha = [cache.get_hash(s, i, settings) for s, i in subs_a]
        assert None not in ha
        assert ha == [cache.get_hash(s, i, settings) for s, i in subs_a2]  # same weights: same key
        assert ha != [cache.get_hash(s, i, settings) for s, i in subs_b]  # other weights: other key
        refittable = settings_for()
        assert ha != [cache.get_hash(s, i, refittable) for s, i in subs_a]


def test_get_hash_call_forms_match_the_base_class(cache):
    settings = settings_for()
    sub, specs = trt_subgraphs(MLP(), settings)[0]
    h = cache.get_hash(sub, specs, settings)
    assert ttc.GraphcacheTRTEngineCache.get_hash(sub, specs, settings) == h  # static, like the base class
    assert cache.get_hash(gm=sub, input_specs=specs, settings=settings) == h
    assert len(h) == 64 and int(h, 16) >= 0


def test_get_hash_without_shape_metadata_uses_the_input_specs(cache):
    settings = settings_for()
    sub, specs = trt_subgraphs(MLP(), settings)[0]
    h = cache.get_hash(sub, specs, settings)
    for node in sub.graph.nodes:
        node.meta.pop("val", None)
        node.meta.pop("tensor_meta", None)
    h2 = cache.get_hash(sub, specs, settings)
    assert h2 is not None and len(h2) == 64
    from torch_tensorrt import Input

    assert cache.get_hash(sub, [Input(shape=(3, 8), dtype=torch.float32)], settings) not in (None, h2)


def test_get_hash_never_raises(cache, caplog):
    with caplog.at_level(logging.WARNING):
        assert cache.get_hash(object(), [], settings_for()) is None
    assert "could not key" in caplog.text


def test_pack_unpack_static_and_keyword_forms_and_the_2_14_entry_shape():
    settings = settings_for()
    blob = ttc.GraphcacheTRTEngineCache.pack(
        serialized_engine=b"e", input_names=["x"], output_names=["y"], input_specs=[], compilation_settings=settings,
        requires_output_allocator=False, requires_native_multidevice=False, aliased_io={"y": "x"})
    got = ttc.GraphcacheTRTEngineCache.unpack(blob)
    assert got[:3] == (b"e", ["x"], ["y"]) and got[7] == {"y": "x"} and len(got) == 8
    again = ttc.GraphcacheTRTEngineCache.unpack(packed_obj=blob)
    assert again[:4] == got[:4] and again[5:] == got[5:] and same(again[4].device, settings.device)


def test_engine_cache_size_semantics(tmp_path, caplog):
    settings = settings_for()
    sub, specs = trt_subgraphs(MLP(), settings)[0]
    entry = (b"\x01" * 4096, ["x"], ["y"], specs, settings, False, False)
    zero = ttc.GraphcacheTRTEngineCache(str(tmp_path / "zero"), 0)
    small = ttc.GraphcacheTRTEngineCache(str(tmp_path / "small"), 1024)
    unlimited = ttc.GraphcacheTRTEngineCache(str(tmp_path / "none"), None)
    h = zero.get_hash(sub, specs, settings)
    with caplog.at_level(logging.WARNING):
        zero.insert(h, entry)
        small.insert(h, entry)
    assert caplog.text.count("larger than the total cache size") == 2
    assert zero.check(h) is None and small.check(h) is None
    unlimited.insert(h, entry)
    assert unlimited.check(h)[0] == entry[0]


def test_default_directory_is_ours_not_torch_tensorrts(tmp_path, monkeypatch):
    from torch_tensorrt.dynamo import _defaults

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    c = ttc.GraphcacheTRTEngineCache()
    assert c.engine_cache_dir == str(tmp_path / "graphcache" / "torch_tensorrt")
    assert c.engine_cache_dir != _defaults.ENGINE_CACHE_DIR


def test_internal_state_is_bounded(cache):
    settings = settings_for()
    subs = trt_subgraphs(MLP(), settings)
    for i in range(ttc._RECENT_KEYS + 50):
        specs = [type(subs[0][1][0])(shape=(i + 1, 8), dtype=torch.float32)]
        cache.get_hash(subs[0][0], specs, settings)
    assert len(ttc.GraphcacheTRTEngineCache._recent) <= ttc._RECENT_KEYS


def test_gpu_identity_comes_from_settings_device(monkeypatch, cache):
    from torch_tensorrt import Device

    sub, specs = trt_subgraphs(MLP(), settings_for())[0]
    seen = []
    real = ttc._gpu_identity_of.__wrapped__

    def spy(kind, gpu_id):
        seen.append(gpu_id)
        return real(kind, gpu_id) + (("spy", str(gpu_id)),)

    monkeypatch.setattr(ttc, "_gpu_identity_of", spy)
    h0 = cache.get_hash(sub, specs, settings_for(device=Device("cuda:0")))
    h1 = cache.get_hash(sub, specs, settings_for(device=Device("cuda:1")))
    assert seen == [0, 1] and h0 != h1


def test_the_lowered_subgraph_holds_a_strided_weight_fingerprinted_by_logical_contents():
    from graphcache import weight_access

    sub, _ = trt_subgraphs(MLPTransposedWeight(), settings_for())[0]
    tensors = weight_access.named_tensors(sub)
    strided = [n for n, t in tensors.items() if isinstance(t, torch.Tensor) and not t.is_contiguous()]
    assert strided, "expected a non-contiguous constant in the lowered subgraph"
    name = strided[0]
    dense = {name: tensors[name].contiguous()}
    assert weight_access.fingerprint(sub, [name]) == weight_access.fingerprint(sub, [name], dense)
    other = {name: tensors[name].contiguous() + 1}
    assert weight_access.fingerprint(sub, [name]) != weight_access.fingerprint(sub, [name], other)


def test_get_hash_keys_the_subgraph_itself_with_its_weights_in_canonical_order():
    """get_hash keys the lowered GraphModule directly (its dotted get_attr paths are resolved in C++ by
    dict lookups): the same key and weight order as graphcache.key, and a structural change shows."""
    import graphcache

    for model in (MLP(), MLPTransposedWeight()):
        sub, specs = trt_subgraphs(model, settings_for())[0]
        assert sub.graph.find_nodes(op="get_attr")
        direct = graphcache.key(sub)
        h = ttc.GraphcacheTRTEngineCache.get_hash(sub, specs, settings_for())
        info = ttc.GraphcacheTRTEngineCache._recent[h].info
        assert info.info.parts["structure"] == direct.parts["structure"]
        assert info.info.weight_names == direct.weight_names
    a, _ = trt_subgraphs(MLP(), settings_for())[0]
    b, _ = trt_subgraphs(MLPTransposedWeight(), settings_for())[0]
    assert graphcache.key(a).key != graphcache.key(b).key


def test_a_hit_on_the_refit_path_hands_the_cached_engine_to_tensorrt_and_refits_it(cache, interpreter, monkeypatch):
    """strip_engine_weights=False (the default): pull_cached_engine deserializes the cached engine with
    trt.Runtime and refits it from the current module (_refit_single_trt_engine_with_gm). Both are
    TensorRT work, stood in here; the call sequence around them is torch_tensorrt's."""
    import tensorrt
    from torch_tensorrt.dynamo import _refit

    monkeypatch.setattr(tensorrt, "Runtime", trt_standin.Runtime, raising=False)
    refits = []
    monkeypatch.setattr(_refit, "_refit_single_trt_engine_with_gm",
                        lambda new_gm, old_engine, input_list, settings: refits.append((new_gm, old_engine)))
    trt_standin.Runtime.deserialized = []
    settings = settings_for(strip_engine_weights=False)
    subs = trt_subgraphs(MLP(), settings)
    first = compile_all(subs, settings, cache)
    assert len(interpreter.built) == len(subs) and refits == []
    again = trt_subgraphs(MLP(), settings)
    second = compile_all(again, settings, cache)
    assert len(interpreter.built) == len(subs)  # served from the cache
    assert [r[0] for r in refits] == [s for s, _ in again]  # refit with the new module's weights
    assert trt_standin.Runtime.deserialized == [bytes(r.serialized_engine) for r in first]
    assert [bytes(r.serialized_engine) for r in second] == [bytes(r.serialized_engine) for r in first]
