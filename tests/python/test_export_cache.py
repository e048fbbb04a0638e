"""graphcache.export: what makes a miss (each input of tracing changed alone), the stored form (versioned,
no pickle, corrupt = miss), what is not cached and why, and the hooks in aoti / Torch-TensorRT."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch
from torch import nn

import graphcache
from graphcache import blob_codec, export_serde, export_store
from graphcache.engine_cache import EngineCache
from graphcache.export_cache import entry_key, export_cached

MODEL_SOURCE = '''
import torch
from torch import nn


class Settings:
    def __init__(self, scale):
        self.scale = scale


class Net(nn.Module):
    def __init__(self, scale=2.0):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.settings = Settings(scale)
        self.offset = 1

    def forward(self, x):
        return self.fc(x) * self.settings.scale + self.offset
'''


@pytest.fixture
def net_module(tmp_path):
    """The model's code in a file of its own (so the test can edit it), imported under a unique name."""
    path = tmp_path / "edited_model.py"
    path.write_text(MODEL_SOURCE)
    name = f"edited_model_{id(path)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module, path
    sys.modules.pop(name, None)


def _net(source_module, **kwargs):
    torch.manual_seed(0)
    return source_module.Net(**kwargs).eval()


X = torch.randn(3, 4)


def _warm(cache, model, args=(X,), **kwargs):
    first = export_cached(model, args, cache=cache, **kwargs)
    assert first.stored, first.reason
    second = export_cached(model, args, cache=cache, **kwargs)
    assert second.hit, second.reason
    return second


def test_hit_returns_the_program_of_torch_export_on_the_current_weights(tmp_path, net_module):
    source, _ = net_module
    model = _net(source)
    hit = _warm(tmp_path, model)
    assert isinstance(hit.program, torch.export.ExportedProgram)
    assert hit.program.state_dict["fc.weight"] is model.fc.weight
    with torch.no_grad():
        model.fc.weight.mul_(3)  # new weight values: same program, the current values run
        torch.testing.assert_close(hit.program.module()(X), model(X))
    assert graphcache.export(model, (X,), cache=tmp_path).graph_signature == hit.program.graph_signature


def test_editing_a_traced_source_file_is_a_miss(tmp_path, net_module):
    source, path = net_module
    model = _net(source)
    _warm(tmp_path, model)
    path.write_text(MODEL_SOURCE.replace("+ self.offset", "- self.offset"))
    again = export_cached(model, (X,), cache=tmp_path)
    assert not again.hit and "changed" in again.reason and str(path.name) in again.reason


def test_a_config_value_is_a_miss(tmp_path, net_module):
    source, _ = net_module
    model = _net(source)
    _warm(tmp_path, model)
    model.settings.scale = 3.0
    assert not export_cached(model, (X,), cache=tmp_path).hit


def test_a_non_tensor_attribute_is_a_miss(tmp_path, net_module):
    source, _ = net_module
    model = _net(source)
    _warm(tmp_path, model)
    model.offset = 2
    assert not export_cached(model, (X,), cache=tmp_path).hit


def test_a_dtype_is_a_miss(tmp_path, net_module):
    source, _ = net_module
    model = _net(source)
    _warm(tmp_path, model)
    model.double()
    result = export_cached(model, (X.double(),), cache=tmp_path)
    assert not result.hit and result.stored
    assert export_cached(model, (X,), cache=tmp_path).reason == "no entry"  # inputs float, weights double


def test_an_input_spec_is_a_miss(tmp_path, net_module):
    source, _ = net_module
    model = _net(source)
    _warm(tmp_path, model)
    assert not export_cached(model, (torch.randn(5, 4),), cache=tmp_path).hit  # shape
    assert not export_cached(model, (X.t().contiguous().t(),), cache=tmp_path).hit  # strides
    batch = torch.export.Dim("batch", min=2, max=32)
    assert not export_cached(model, (X,), dynamic_shapes=({0: batch},), cache=tmp_path).hit


def test_global_state_is_a_miss(tmp_path, net_module):
    source, _ = net_module
    model = _net(source)
    _warm(tmp_path, model)
    with torch.no_grad():
        assert not export_cached(model, (X,), cache=tmp_path).hit
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert not export_cached(model, (X,), cache=tmp_path).hit
    finally:
        torch.set_default_dtype(previous)
    assert export_cached(model, (X,), cache=tmp_path).hit  # back to the recorded state


def test_another_torch_version_is_a_miss(tmp_path, net_module):
    """The recorded torch version (rewritten in the stored entry, as another torch would have written it)."""
    source, _ = net_module
    model = _net(source)
    hit = _warm(tmp_path, model)
    store = EngineCache(tmp_path).store
    values = list(blob_codec.decode(store.get(hit.key)[0]))
    values[0]["record"]["versions"]["torch"] = "1.0.0"
    store.put(hit.key, blob_codec.encode(values), None)
    again = export_cached(model, (X,), cache=tmp_path)
    assert not again.hit and "torch version" in again.reason
    assert export_cached(model, (X,), cache=tmp_path).hit  # rewritten by the miss


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other_format", "bad_constant"])
def test_a_corrupt_or_foreign_entry_is_a_miss(tmp_path, damage):
    class WithConstant(nn.Module):
        def forward(self, x):
            return x + torch.tensor([1.0, 2.0, 3.0, 4.0])

    model = WithConstant()
    hit = _warm(tmp_path, model)
    store = EngineCache(tmp_path).store
    payload = bytes(store.get(hit.key)[0])
    if damage == "garbage":
        payload = b"\x80\x04not an entry"  # a pickle opcode first: never unpickled
    elif damage == "truncated":
        payload = payload[: len(payload) // 2]
    else:
        values = list(blob_codec.decode(payload))
        if damage == "other_format":
            values[0]["format"] = "graphcache.export.v0"
        else:
            values[2] = values[2][:3]  # the stored constant's bytes cut short
        payload = blob_codec.encode(values)
    store.put(hit.key, payload, None)
    again = export_cached(model, (X,), cache=tmp_path)
    assert not again.hit and "unusable entry" in again.reason
    torch.testing.assert_close(again.program.module()(X), model(X))


def test_stored_form_has_no_pickle_and_no_weights(tmp_path):
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64)).eval()
    hit = _warm(tmp_path, model, (torch.randn(2, 64),))
    payload = bytes(EngineCache(tmp_path).store.get(hit.key)[0])
    assert payload.startswith(blob_codec.MAGIC)
    weight_bytes = model[0].weight.detach().numpy().tobytes()
    assert weight_bytes[:256] not in payload
    assert len(payload) < len(weight_bytes)
    assert b"torch._utils\n_rebuild" not in payload and b"\x80\x02" not in payload[:16]


def test_refresh_forces_a_miss(tmp_path):
    model = nn.Linear(4, 4)
    _warm(tmp_path, model)
    forced = export_cached(model, (X,), cache=tmp_path, refresh=True)
    assert not forced.hit and forced.stored and forced.reason == "refresh=True"
    assert entry_key(model, (X,)) == forced.key


def test_strict_and_dynamo_traced_bodies_are_not_cached(tmp_path):
    class Branchy(nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, lambda t: t + 1, lambda t: t - 1, (x,))

    strict = export_cached(nn.Linear(4, 4), (X,), strict=True, cache=tmp_path)
    assert not strict.stored and "strict=True" in strict.reason
    cond = export_cached(Branchy(), (X,), cache=tmp_path)
    assert not cond.stored and "Dynamo" in cond.reason
    torch.testing.assert_close(cond.program.module()(X), Branchy()(X))


def test_an_object_without_a_stable_description_is_not_cached(tmp_path):
    model = nn.Linear(4, 4)
    model.handle = object()  # only an address describes it
    result = export_cached(model, (X,), cache=tmp_path)
    assert not result.stored and "not cacheable" in result.reason
    torch.testing.assert_close(result.program.module()(X), model(X))


def test_fast_schema_conversion_equals_torch_own(tmp_path):
    from torch._export.serde import serialize as serde

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    ep = torch.export.export(model, (torch.randn(1, 3, 8, 8),))
    data = export_store._serialize_program(ep)
    assert export_serde.exported_program_from_json(data) == serde._bytes_to_dataclass(serde.ExportedProgram, data)


def test_aoti_get_or_compile_takes_the_module(tmp_path):
    from graphcache import aoti

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4)).eval()
    x = torch.randn(2, 8)
    cache = EngineCache(tmp_path)
    cold = aoti.get_or_compile(cache, model, (x,))
    assert "export" in cold.timings and not cold.cache.hit
    warm = aoti.get_or_compile(cache, model, (x,))
    assert "export_hit" in warm.timings and warm.cache.hit
    with torch.no_grad():
        torch.testing.assert_close(warm.runner(x), model(x), rtol=1e-4, atol=1e-4)


def test_torch_tensorrt_compile_module_exports_through_the_cache(tmp_path):
    from graphcache import torch_tensorrt_cache as ttc

    model = nn.Linear(4, 4)
    calls = []

    def compile_fn(program, **settings):  # where torch_tensorrt.dynamo.compile would build engines
        calls.append((program, settings))
        return program.module()

    for _ in range(2):
        compiled = ttc.compile_module(model, (X,), cache=tmp_path, engine_cache=object(), compile_fn=compile_fn)
    first, second = calls
    assert second[0].state_dict["weight"] is model.weight
    assert graphcache.key(first[0]).key == graphcache.key(second[0]).key
    assert second[1]["cache_built_engines"] and second[1]["reuse_cached_engines"]
    torch.testing.assert_close(compiled(X), model(X))


NEW_PROCESS = '''
import importlib.util, sys, torch
from graphcache.export_cache import export_cached
spec = importlib.util.spec_from_file_location("edited_model", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
torch.manual_seed(0)
model = module.Net().eval()
result = export_cached(model, (torch.ones(3, 4),), cache=sys.argv[2])
print("hit" if result.hit else "miss", result.reason)
'''


def test_a_new_process_hits_what_another_stored(tmp_path, net_module):
    """Two processes with different string hash seeds (which reorder sets, e.g. in torch's configs)."""
    import os
    import subprocess

    _, path = net_module
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", NEW_PROCESS, str(path), str(tmp_path / "cache")], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout.strip().splitlines()[-1])
    assert outputs[0].startswith("miss") and outputs[1] == "hit", outputs


def test_the_fast_path_for_empty_containers_describes_them_as_the_general_path():
    import collections

    from graphcache import export_state

    describer = export_state._Describer()
    for value in ([], (), {}, collections.OrderedDict(), set(), frozenset()):
        assert describer.value(value) == describer.ref_or(value, 0), value


NEW_PROCESS_HF = '''
import sys, torch, transformers
from graphcache.export_cache import export_cached
config = transformers.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, vocab_size=128, max_position_embeddings=64, use_cache=False)
torch.manual_seed(0)
model = transformers.AutoModelForCausalLM.from_config(config).eval()
result = export_cached(model, (torch.zeros(1, 6, dtype=torch.int64),), cache=sys.argv[1])
print("hit" if result.hit else "miss", result.reason)
'''


def test_a_new_process_hits_an_hf_model_another_stored(tmp_path):
    """transformers' GenerationConfig carries a per-process hash of itself: not part of the state."""
    import os
    import subprocess

    pytest.importorskip("transformers")
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", NEW_PROCESS_HF, str(tmp_path / "cache")], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout.strip().splitlines()[-1])
    assert outputs[0].startswith("miss") and outputs[1] == "hit", outputs
