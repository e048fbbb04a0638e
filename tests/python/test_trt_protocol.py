"""GraphcacheTRTEngineCache against Torch-TensorRT's engine cache protocol.

When torch_tensorrt imports, the class is checked against the real BaseEngineCache. Otherwise (CPU CI)
it is exercised exactly as torch_tensorrt/dynamo/_conversion.py drives the protocol:
get_hash(gm, input_specs, settings) -> check(hash) -> insert(hash, entry tuple) -> check(hash) on the
next compile, with entry tuples of both released shapes. `TRTInput` and `TRTSettings` below carry the
attributes the protocol reads from torch_tensorrt.Input / CompilationSettings (they are test inputs,
not stand-ins for graphcache code)."""

import dataclasses
import enum
import pickle
from typing import Any, Optional, Set

import pytest
import torch
from torch import nn
from torch.fx.experimental.proxy_tensor import make_fx

import trt_standin

try:  # the real torch_tensorrt (with the tensorrt stand-in) before graphcache picks its base class
    trt_standin.import_torch_tensorrt()
except ImportError:
    pass

from graphcache import blob_codec  # noqa: E402
from graphcache import torch_tensorrt_cache as ttc  # noqa: E402


class ShapeMode(enum.Enum):
    STATIC = 0
    DYNAMIC = 1


@dataclasses.dataclass
class TRTInput:
    shape: Any
    dtype: torch.dtype = torch.float32
    shape_mode: ShapeMode = ShapeMode.STATIC
    format: str = "linear"


@dataclasses.dataclass
class TRTSettings:
    # engine-relevant in every torch_tensorrt release (enabled_precisions left the list in 2.13)
    autocast_excluded_ops: Set[Any] = dataclasses.field(default_factory=lambda: {torch.ops.aten.add.Tensor})
    optimization_level: Optional[int] = None
    immutable_weights: bool = False
    refit_identical_engine_weights: bool = False
    strip_engine_weights: bool = False
    debug: bool = False  # not engine-relevant
    min_block_size: int = 5  # not engine-relevant


TRUSTED = ("torch_tensorrt", "tensorrt", __name__)


class Sub(nn.Module):
    def forward(self, x, y):
        return torch.sub(x, y)


class SubSwapped(nn.Module):
    def forward(self, x, y):
        return torch.sub(y, x)


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x)


INPUTS = [TRTInput((2, 4)), TRTInput((2, 4))]


def gm_of(module, n_inputs=2, seed=0):
    torch.manual_seed(seed)
    mod = module() if isinstance(module, type) else module
    args = tuple(torch.randn(2, 4) for _ in range(n_inputs))
    # An aten-level GraphModule with get_attr weights, like the subgraphs Torch-TensorRT converts.
    return make_fx(mod.eval())(*args), args


@pytest.fixture
def trt_cache(tmp_path):
    return ttc.GraphcacheTRTEngineCache(str(tmp_path / "trt"), 1 << 26, trusted_modules=TRUSTED)


def test_real_base_class_when_torch_tensorrt_imports():
    if not ttc.HAVE_TORCH_TENSORRT:
        pytest.skip("torch_tensorrt is not installed: the protocol is tested as its source defines it")
    from torch_tensorrt.dynamo._engine_cache import BaseEngineCache

    assert issubclass(ttc.GraphcacheTRTEngineCache, BaseEngineCache)


def test_get_hash_is_a_validated_64_hex_key_and_stable(trt_cache):
    gm1, _ = gm_of(Sub)
    gm2, _ = gm_of(Sub)
    h1 = trt_cache.get_hash(gm1, INPUTS, TRTSettings())
    assert len(h1) == 64 and int(h1, 16) >= 0
    assert trt_cache.get_hash(gm2, INPUTS, TRTSettings()) == h1


def test_get_hash_separates_what_op_target_strings_merge(trt_cache):
    gm_a, _ = gm_of(Sub)
    gm_b, _ = gm_of(SubSwapped)
    # Torch-TensorRT's op_target canonical strings are identical for these two graphs ...
    def op_targets(gm):
        return [f"{n.op}_{n.target}" for n in gm.graph.nodes if n.op != "placeholder"]

    assert op_targets(gm_a) == op_targets(gm_b)
    # ... our key is not.
    assert trt_cache.get_hash(gm_a, INPUTS, TRTSettings()) != trt_cache.get_hash(gm_b, INPUTS, TRTSettings())


def test_engine_relevant_settings_and_input_specs_change_the_hash(trt_cache):
    gm, _ = gm_of(Sub)
    base = trt_cache.get_hash(gm, INPUTS, TRTSettings())
    assert trt_cache.get_hash(gm, INPUTS, TRTSettings(debug=True, min_block_size=1)) == base
    assert trt_cache.get_hash(gm, INPUTS, TRTSettings(autocast_excluded_ops={torch.ops.aten.mul.Tensor})) != base
    assert trt_cache.get_hash(gm, INPUTS, TRTSettings(optimization_level=5)) != base
    dynamic = [TRTInput({"min_shape": (1, 4), "opt_shape": (2, 4), "max_shape": (8, 4)},
                        shape_mode=ShapeMode.DYNAMIC), INPUTS[1]]
    assert trt_cache.get_hash(gm, dynamic, TRTSettings()) != base
    assert trt_cache.get_hash(gm, [INPUTS[0], TRTInput((2, 4), dtype=torch.float16)], TRTSettings()) != base


def test_set_order_does_not_change_the_hash(trt_cache):
    gm, _ = gm_of(Sub)
    a = trt_cache.get_hash(gm, INPUTS, TRTSettings(autocast_excluded_ops={torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor}))
    b = trt_cache.get_hash(gm, INPUTS, TRTSettings(autocast_excluded_ops={torch.ops.aten.mul.Tensor, torch.ops.aten.add.Tensor}))
    assert a == b


def test_refit_identical_binds_weights_refittable_does_not(trt_cache):
    gm0, _ = gm_of(Linear, 1, seed=0)
    gm1, _ = gm_of(Linear, 1, seed=1)
    one = [TRTInput((2, 4))]
    assert trt_cache.get_hash(gm0, one, TRTSettings()) == trt_cache.get_hash(gm1, one, TRTSettings())
    identical = TRTSettings(refit_identical_engine_weights=True)
    assert trt_cache.get_hash(gm0, one, identical) != trt_cache.get_hash(gm1, one, identical)
    assert trt_cache.get_hash(gm0, one, identical) != trt_cache.get_hash(gm0, one, TRTSettings())


def test_round_trip_of_the_current_entry_shape(trt_cache, tmp_path):
    """(engine, input_names, output_names, input_specs, settings, requires_output_allocator,
    requires_native_multidevice, aliased_io) - torch_tensorrt >= 2.10."""
    gm, _ = gm_of(Sub)
    settings = TRTSettings(autocast_excluded_ops={torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor})
    h = trt_cache.get_hash(gm, INPUTS, settings)
    assert trt_cache.check(h) is None
    engine = bytes(range(256)) * 1000
    entry = (engine, ["x", "y"], ["output0"], INPUTS, settings, False, True, {"output0": ("x", "inplace")})
    trt_cache.insert(h, entry)
    got = ttc.GraphcacheTRTEngineCache(str(tmp_path / "trt"), 1 << 26, trusted_modules=TRUSTED).check(h)
    assert got == entry
    assert isinstance(got[3][0], TRTInput) and isinstance(got[4], TRTSettings)


def test_round_trip_of_the_older_entry_shape_with_tensor_constants(trt_cache):
    """(engine, input_names, output_names, input_specs, settings, weight_name_map,
    requires_output_allocator) - torch_tensorrt 2.5-2.9, whose weight_name_map holds tensors."""
    gm, _ = gm_of(Linear, 1)
    h = trt_cache.get_hash(gm, [TRTInput((2, 4))], TRTSettings())
    const = torch.arange(6, dtype=torch.float16).reshape(2, 3)
    wmap = {"fc.weight [CONSTANT]": ["fc.weight", torch.float32], "constant_mapping": {"c0": const}}
    entry = (b"\x00engine\xff", ["x"], ["out"], [TRTInput((2, 4))], TRTSettings(), wmap, False)
    trt_cache.insert(h, entry)
    got = trt_cache.check(h)
    assert got[:5] == entry[:5] and got[6] is False
    assert got[5]["fc.weight [CONSTANT]"] == ["fc.weight", torch.float32]
    assert torch.equal(got[5]["constant_mapping"]["c0"], const)
    assert got[5]["constant_mapping"]["c0"].dtype == torch.float16


def test_untrusted_classes_come_back_as_records_not_imports(tmp_path, trt_cache):
    gm, _ = gm_of(Sub)
    h = trt_cache.get_hash(gm, INPUTS, TRTSettings())
    trt_cache.insert(h, (b"e", [], [], INPUTS, TRTSettings(optimization_level=3)))
    strict = ttc.GraphcacheTRTEngineCache(str(tmp_path / "trt"), 1 << 26)  # this module not trusted
    got = strict.check(h)
    assert isinstance(got[4], blob_codec.Record)
    assert got[4].optimization_level == 3 and got[4].record_type.endswith(":TRTSettings")


def test_pickled_blobs_are_refused(trt_cache):
    gm, _ = gm_of(Sub)
    h = trt_cache.get_hash(gm, INPUTS, TRTSettings())
    with pytest.raises(ValueError, match="not in graphcache's format"):
        trt_cache.save(h, pickle.dumps({"serialized_engine": b"x"}))
    assert trt_cache.load(h) is None


def test_unserializable_values_raise_instead_of_pickling():
    with pytest.raises(TypeError, match="without pickle"):
        ttc.GraphcacheTRTEngineCache.pack(b"e", [lambda: 1])


def test_a_malformed_blob_is_a_miss_and_is_removed(trt_cache):
    gm, _ = gm_of(Sub)
    h = trt_cache.get_hash(gm, INPUTS, TRTSettings())
    good = ttc.GraphcacheTRTEngineCache.pack(b"engine", ["x"])
    trt_cache.save(h, good[:-3] + b"\x00\x00")  # payload shorter than the header says -> not decodable
    bad = blob_codec.MAGIC + good[len(blob_codec.MAGIC):len(blob_codec.MAGIC) + 8] + b"{not json"
    trt_cache.save(h, bad)
    assert trt_cache.check(h) is None
    assert trt_cache.load(h) is None


def test_invalid_hash_is_refused(trt_cache):
    with pytest.raises(Exception, match="(?i)hex|key"):
        trt_cache.save("../../etc/passwd", ttc.GraphcacheTRTEngineCache.pack(b"e"))


def test_metadata_records_the_refit_mode(trt_cache):
    gm, _ = gm_of(Linear, 1)
    settings = TRTSettings(refit_identical_engine_weights=True)
    h = trt_cache.get_hash(gm, [TRTInput((2, 4))], settings)
    trt_cache.insert(h, (b"engine", ["x"], ["out"], [TRTInput((2, 4))], settings, False, False, {}))
    _, metadata = trt_cache.cache.store.get(h)
    assert metadata["refit_mode"] == "refit_identical"
    assert metadata["weight_fingerprint"]
