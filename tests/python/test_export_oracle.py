"""Soundness oracle of graphcache.export: for each model variant, the program served from the export cache
(on a freshly built module, as a new process would have) must have the same graphcache.key as a fresh
torch.export of that module, run to the eager module's outputs, and hold the module's own parameters
(bound, not copied).

Variants: the differential oracle's own models (oracle_models.py: MLPs, CNNs, attention blocks, decoders,
output structures, memory formats), models with tied weights / tensor attributes / constants made in
forward / kwargs / dynamic shapes, and transformers' models from small configs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import graphcache
import oracle_models
from graphcache import blob_codec, export_graph, export_store
from graphcache.engine_cache import EngineCache
from graphcache.export_cache import export_cached


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.head = nn.Linear(8, 16, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        return self.head(self.embed(ids))


class Constants(nn.Module):
    """A non-persistent buffer, a plain tensor attribute, and a tensor made in forward (stored by value)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("shift", torch.arange(4.0), persistent=False)
        self.table = torch.linspace(0, 1, 4)

    def forward(self, x):
        return self.fc(x) + self.shift * self.table + torch.tensor([1.0, -2.0, 3.0, 0.5])


@dataclasses.dataclass
class SmallConfig:
    hidden: int = 8
    scale: float = 0.5
    act: str = "gelu"


class Configured(nn.Module):
    def __init__(self, config: SmallConfig) -> None:
        super().__init__()
        self.config = config
        self.fc = nn.Linear(config.hidden, config.hidden)

    def forward(self, x, *, bias=None):
        y = self.fc(x) * self.config.scale
        y = torch.nn.functional.gelu(y) if self.config.act == "gelu" else torch.relu(y)
        return y if bias is None else y + bias


class DictIn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, inputs):
        return {"sum": self.a(inputs["x"]) + self.b(inputs["y"]), "x": inputs["x"] * 2}


def _seeded(factory, seed=0):
    def make():
        torch.manual_seed(seed)
        return factory().eval()

    return make


def _own_variants():
    g = torch.Generator().manual_seed(7)
    x4 = torch.randn(3, 4, generator=g)
    x8 = torch.randn(3, 8, generator=g)
    batch = torch.export.Dim("batch", min=1, max=64)
    return [
        ("tied", _seeded(Tied), lambda: ((torch.randint(0, 16, (2, 5)),), None, None)),
        ("constants", _seeded(Constants), lambda: ((x4,), None, None)),
        ("config", _seeded(lambda: Configured(SmallConfig())), lambda: ((x8,), None, None)),
        ("config_kwarg", _seeded(lambda: Configured(SmallConfig(act="relu"))), lambda: ((x8,), {"bias": x8[0]}, None)),
        ("dict_inputs", _seeded(DictIn), lambda: (({"x": x4, "y": x4 + 1},), None, None)),
        ("dynamic_batch", _seeded(lambda: Configured(SmallConfig())), lambda: ((x8,), None, ({0: batch},))),
        ("bf16", _seeded(lambda: Configured(SmallConfig()).to(torch.bfloat16)), lambda: ((x8.bfloat16(),), None, None)),
    ]


def _hf_variants():
    transformers = pytest.importorskip("transformers")
    common = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=128,
                  max_position_embeddings=64, use_cache=False)
    configs = {
        "llama": transformers.LlamaConfig(num_key_value_heads=2, **common),
        "llama_mha": transformers.LlamaConfig(num_key_value_heads=4, **common),
        "mistral": transformers.MistralConfig(num_key_value_heads=2, sliding_window=None, **common),
        "qwen2": transformers.Qwen2Config(num_key_value_heads=2, **common),
        "phi3": transformers.Phi3Config(num_key_value_heads=4, pad_token_id=0, **common),
        "gemma": transformers.GemmaConfig(num_key_value_heads=2, head_dim=8, **common),
    }
    out = []
    for name, config in configs.items():
        ids = torch.randint(0, 128, (1, 6), generator=torch.Generator().manual_seed(3))
        out.append((f"hf_{name}", _seeded(lambda c=config: transformers.AutoModelForCausalLM.from_config(c)),
                    lambda ids=ids: ((ids,), None, None)))
    return out


def _oracle_variants():
    out = []
    for name, make_module, make_inputs in oracle_models.variants(seeds=(0,)):
        out.append((name, make_module, lambda mi=make_inputs: (mi(), None, None)))
    return out


VARIANTS = _oracle_variants() + _own_variants()
VARIANT_IDS = [v[0] for v in VARIANTS]


def _outputs(out):
    leaves, _ = torch.utils._pytree.tree_flatten(out)
    return [t for t in leaves if isinstance(t, torch.Tensor)]


def _check(tmp_path, make_module, make_inputs, name=""):
    args, kwargs, dynamic_shapes = make_inputs()
    miss = export_cached(make_module(), args, kwargs, dynamic_shapes, cache=tmp_path)
    if "'named'" in name:
        # A namedtuple output that torch's serializer does not know: returned, not cached, and said why.
        assert not miss.stored and "namedtuple" in miss.reason
        assert not export_cached(make_module(), args, kwargs, dynamic_shapes, cache=tmp_path).hit
        return
    assert not miss.hit and miss.stored, miss.reason
    # Static shapes are stored in the compact form (export_graph.py); symbolic ones in torch's own.
    header = blob_codec.decode(EngineCache(tmp_path).store.get(miss.key)[0])[0]
    expected_form = export_store.TORCH_FORM if dynamic_shapes is not None else export_graph.GRAPH_FORM
    assert header["graph"]["form"] == expected_form, header["graph"]["note"]

    module = make_module()  # a new object with the same code, state and weights: a new process's module
    hit = export_cached(module, args, kwargs, dynamic_shapes, cache=tmp_path)
    assert hit.hit, hit.reason
    assert hit.key == miss.key

    fresh = torch.export.export(module, args, kwargs=kwargs, dynamic_shapes=dynamic_shapes)
    assert graphcache.key(hit.program).key == graphcache.key(fresh).key

    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        if name in hit.program.state_dict:
            assert hit.program.state_dict[name] is tensor, name  # bound, not copied

    with torch.no_grad():
        expected = _outputs(module(*args, **(kwargs or {})))
        got = _outputs(hit.program.module()(*args, **(kwargs or {})))
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,make_module,make_inputs", VARIANTS, ids=VARIANT_IDS)
def test_cached_program_matches_fresh_export_and_eager(tmp_path, name, make_module, make_inputs):
    _check(tmp_path, make_module, make_inputs, name)


@pytest.mark.parametrize("index", range(6), ids=["llama", "llama_mha", "mistral", "qwen2", "phi3", "gemma"])
def test_transformers_models(tmp_path, index):
    name, make_module, make_inputs = _hf_variants()[index]
    _check(tmp_path, make_module, make_inputs)


def test_enough_variants():
    assert len(VARIANTS) + 6 >= 30
