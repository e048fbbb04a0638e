"""The native weight fingerprint binding: in-place, order/dtype/shape sensitive, equal to the C++ CLI's."""
import json
import pathlib
import subprocess

import pytest
import torch

import graphcache
from graphcache import _core

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_fingerprint_is_deterministic_and_sensitive():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 700, generator=g)  # ~820 KB: one chunk
    b = torch.randn(3 * (1 << 20) // 4 + 5, generator=g)  # several 1 MiB chunks, odd tail
    base = _core.weight_fingerprint([a, b])
    assert len(base) == 64
    assert _core.weight_fingerprint([a.clone(), b.clone()]) == base
    assert _core.weight_fingerprint([a, b], threads=1) == _core.weight_fingerprint([a, b], threads=2)
    assert _core.weight_fingerprint([b, a]) != base  # order
    assert _core.weight_fingerprint([a.view(700, 300), b]) != base  # shape
    assert _core.weight_fingerprint([a.view(torch.int32), b]) != base  # dtype, same bytes
    c = b.clone()
    c[-1] += 1.0
    assert _core.weight_fingerprint([a, c]) != base  # one value in the last chunk
    assert _core.weight_fingerprint([a, b], secure=True) != base  # modes never collide


def test_fingerprint_refuses_what_it_cannot_read_in_place():
    t = torch.randn(8, 8)
    with pytest.raises(graphcache.InvalidArgumentError, match="not contiguous"):
        _core.weight_fingerprint([t.t()])
    with pytest.raises(graphcache.InvalidArgumentError, match="meta"):
        _core.weight_fingerprint([torch.empty(4, device="meta")])
    with pytest.raises(graphcache.InvalidArgumentError, match="not a torch.Tensor"):
        _core.weight_fingerprint([b"bytes"])


def test_fingerprint_matches_the_cli_on_the_bundled_onnx_model(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    cli = REPO / "build" / "src" / "cli" / "graphcache"
    if not cli.exists():
        pytest.skip("the C++ CLI is built by scripts/build.sh")
    model_path = REPO / "models" / "tiny_cnn.onnx"
    out = json.loads(subprocess.run([cli, "key", "--json", "--weights", model_path], check=True,
                                    capture_output=True, text=True).stdout)
    model = onnx.load(model_path)
    by_name = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    # Slots the loader keys by value (tiny tensors) are not weight slots; the CLI lists the real ones.
    tensors = [by_name[w["name"]] for w in out["weight_slots"]]
    assert _core.weight_fingerprint(tensors) == out["weight_fingerprint"]
