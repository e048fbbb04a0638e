"""AOTInductor end to end on CPU: miss -> compile a weight-stripped package -> store; then in a NEW
process with DIFFERENT weights: hit -> load package -> load the new weights as constants -> run, equal to
eager PyTorch; a different structure misses. Uses the same worker as `python -m graphcache.demo`."""

import io
import zipfile

import pytest
import torch

from graphcache import aoti, demo
from graphcache.engine_cache import EngineCache


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    cache_dir = str(tmp_path_factory.mktemp("aoti-cache"))
    first = demo.run_worker_process(cache_dir, seed=0, variant="base", device="cpu")
    second = demo.run_worker_process(cache_dir, seed=1, variant="base", device="cpu")
    return cache_dir, first, second


def test_first_process_misses_and_compiles(round_trip):
    _, first, _ = round_trip
    assert not first["hit"]
    assert first["timings"]["compile"] > 0
    assert first["allclose"], first
    assert first["refit_mode"] == "refittable"


def test_new_process_with_new_weights_hits_and_matches_eager(round_trip):
    _, first, second = round_trip
    assert second["hit"] and second["key"] == first["key"]
    assert "compile" not in second["timings"]
    assert second["allclose"], second
    assert second["max_abs_err"] < 1e-4
    assert second["weight_slot_map_size"] > 0


def test_reuse_is_much_cheaper_than_compiling(round_trip):
    _, first, second = round_trip
    t = second["timings"]
    reuse = t["key"] + t["fetch"] + t["load"] + t["refit"]
    assert reuse < 0.25 * first["timings"]["compile"]


def test_different_structure_misses(round_trip):
    cache_dir, first, _ = round_trip
    relu = demo.worker(cache_dir, seed=0, variant="relu", device="cpu", compile_allowed=False)
    assert not relu["hit"] and relu["key"] != first["key"]
    same = demo.worker(cache_dir, seed=2, variant="base", device="cpu", compile_allowed=False)
    assert same["hit"] and same["key"] == first["key"]


def test_the_stored_package_holds_no_weights(round_trip):
    cache_dir, first, _ = round_trip
    engine, metadata = EngineCache(cache_dir).store.get(first["key"])
    weight = demo.make_model(0).blocks[0].fc1.weight.detach().contiguous()
    needle = weight.reshape(-1)[:32].numpy().tobytes()  # 128 bytes of one trained-to-be weight
    with zipfile.ZipFile(io.BytesIO(bytes(engine))) as z:
        contents = [z.read(name) for name in z.namelist()]
    assert any(name.endswith(".so") for name in z.namelist())
    assert not any(needle in blob for blob in contents)
    assert metadata["refit_mode"] == "refittable"
    assert len(metadata["weight_slots"]) == first["weight_slot_map_size"]


def test_refit_with_explicit_weights_in_process(round_trip):
    """aoti.get_or_compile(weights=...) loads the given tensors rather than the program's own."""
    cache_dir, _, _ = round_trip
    tokens = demo.example_tokens()
    program = torch.export.export(demo.make_model(0), (tokens,))
    donor = demo.make_model(3)
    res = aoti.get_or_compile(EngineCache(cache_dir), program, (tokens,), weights=dict(donor.state_dict()))
    assert res.cache.hit
    with torch.no_grad():
        out = res.runner(tokens)
        out = out[0] if isinstance(out, (list, tuple)) else out
        assert torch.allclose(out, donor(tokens), rtol=1e-4, atol=1e-4)


def test_runner_loader_serves_the_cached_package_too(round_trip, tmp_path):
    """The zipfile + model-container-runner loading path (for torch builds whose package reader crashes)
    gives the same results as aoti_load_package."""
    cache_dir, first, _ = round_trip
    engine, metadata = EngineCache(cache_dir).store.get(first["key"])
    package = tmp_path / "cached.pt2"
    package.write_bytes(bytes(engine))
    runner = aoti.load_package(str(package), "cpu", loader="runner")
    assert sorted(runner.get_constant_fqns()) == sorted(metadata["weight_slots"])
    tokens = demo.example_tokens()
    program = torch.export.export(demo.make_model(4), (tokens,))
    info = aoti.cache_key(EngineCache(cache_dir), program, (tokens,))
    slot_map = dict(zip(info.weight_names, metadata["weight_slots"]))
    aoti.refit(runner, program, info.weight_names, slot_map)
    with torch.no_grad():
        assert torch.allclose(runner(tokens), demo.make_model(4)(tokens), rtol=1e-4, atol=1e-4)


def test_get_or_compile_leaves_no_temp_folder(round_trip, tmp_path, monkeypatch):
    """Each call used to leave a graphcache-aoti-* folder (with a .pt2) in /tmp; the loaded model must
    still run after the folder is gone."""
    import tempfile

    cache_dir, _, _ = round_trip
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tokens = demo.example_tokens()
    model = demo.make_model(5)
    program = torch.export.export(model, (tokens,))
    res = aoti.get_or_compile(EngineCache(cache_dir), program, (tokens,))
    assert res.cache.hit
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("graphcache-aoti-")] == []
    with torch.no_grad():
        out = res.runner(tokens)
        out = out[0] if isinstance(out, (list, tuple)) else out
        assert torch.allclose(out, model(tokens), rtol=1e-4, atol=1e-4)
