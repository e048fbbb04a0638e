"""One key composition for C++ and Python (src/key): the refit mode and the weight fingerprint are keyed
under one name each, so the same structure, settings and refit mode give the same key from the
`graphcache` CLI and from the Python package."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

import graphcache
from graphcache import _core
from graphcache.engine_cache import EngineCache

REPO = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("GRAPHCACHE_CLI", REPO / "build" / "src" / "cli" / "graphcache"))
MODEL = REPO / "models" / "tiny_cnn.onnx"


def cli_key(*args):
    assert CLI.exists(), "the C++ CLI is built by scripts/build.sh (scripts/test.sh builds it first)"
    out = subprocess.run([CLI, "key", "--json", *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("mode", ["refittable", "refit_identical", "none"])
def test_cli_and_python_compose_the_same_key(mode):
    cli = cli_key("--refit-mode", mode, "--setting", "precision=fp16", "--toolchain", "tensorrt=10.3", MODEL)
    assert cli["refit_mode"] == mode
    weight_bound = mode != "refittable"
    assert ("weight_fingerprint" in cli) == weight_bound, "weight-bound modes key the weight fingerprint"
    py = _core.compose_key(
        cli["parts"]["structure"],
        input_count=len(cli["inputs"]),
        settings=[("precision", "fp16", True)],
        toolchain={"tensorrt": "10.3"},
        refit_mode=mode,
        weight_fingerprint=cli.get("weight_fingerprint"),
    )
    assert py["key"] == cli["key"]
    assert py["parts"] == cli["parts"]


def test_refit_mode_and_weights_are_key_parts_on_both_sides():
    keys = {mode: cli_key("--refit-mode", mode, MODEL)["key"] for mode in ("refittable", "refit_identical", "none")}
    assert len(set(keys.values())) == 3
    plain = cli_key(MODEL)
    assert "refit_mode" not in plain and plain["key"] not in keys.values(), "no --refit-mode: not keyed"
    structure = plain["parts"]["structure"]
    other_weights = _core.compose_key(structure, 1, refit_mode="none", weight_fingerprint="0" * 64)["key"]
    assert other_weights != keys["none"]
    with pytest.raises(graphcache.InvalidArgumentError, match="fingerprint"):
        _core.compose_key(structure, 1, refit_mode="none")  # a weight-bound mode needs the weights
    with pytest.raises(graphcache.InvalidArgumentError, match="reserved"):
        _core.compose_key(structure, 1, settings=[("graphcache.refit_mode", '"none"', True)])


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        return torch.relu(self.fc(x))


def test_engine_cache_keys_what_the_key_layer_composes(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(2, 8)
    ep = torch.export.export(MLP(), (x,))
    cache = EngineCache(tmp_path / "cache")
    info = cache.key(ep, (x,), settings={"precision": "fp16"}, refit_mode="none")
    fingerprint = info.settings["graphcache.weight_fingerprint"]
    assert info.info.metadata["weight_fingerprint"] == fingerprint
    assert info.info.metadata["refit_mode"] == "none"
    again = graphcache.key(ep, (x,), settings={"precision": "fp16"}, toolchain=cache.toolchain, refit_mode="none",
                           weight_fingerprint=fingerprint)
    assert again.key == info.key
    # The same key from the structure digest alone: no second walk is needed to add the weights.
    facts = [tuple(f) for f in _core.key_export(ep)["structural_settings"]]
    composed = _core.compose_key(info.parts["structure"], input_count=1, facts=facts,
                                 settings=[("precision", '"fp16"', True)], toolchain={"torch": torch.__version__},
                                 refit_mode="none", weight_fingerprint=fingerprint)
    assert composed["key"] == info.key
    # The stored entry records what the key layer says it should.
    result = cache.get_or_build(info, lambda _: b"engine", model=ep)
    assert result.metadata["key_parts"] == info.parts
    assert result.metadata["weight_fingerprint"] == fingerprint and result.metadata["refit_mode"] == "none"
