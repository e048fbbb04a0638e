"""EngineCache over the real C++ local store, keyed by graphcache.key on real torch.export / fx modules."""

import glob
import os
import time
import warnings

import pytest
import torch
from torch import nn

from graphcache import weight_access
from graphcache.engine_cache import BuildOutput, EngineCache


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class RenamedMLP(nn.Module):
    """MLP with other attribute names and a different definition order: same structure."""

    def __init__(self) -> None:
        super().__init__()
        self.out_layer = nn.Linear(16, 4)
        self.in_layer = nn.Linear(8, 16)

    def forward(self, x):
        return self.out_layer(torch.relu(self.in_layer(x)))


class TanhMLP(MLP):
    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


X = torch.randn(2, 8)


def export(module_cls, seed=0):
    torch.manual_seed(seed)
    return torch.export.export(module_cls().eval(), (X,))


class Builder:
    """A build_fn that records its calls and returns distinct, real engine bytes."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, info):
        self.calls += 1
        return f"engine #{self.calls} for {info.key}".encode()


@pytest.fixture
def cache(tmp_path):
    return EngineCache(tmp_path / "cache", max_bytes=64 << 20)


def test_miss_then_hit_serves_the_stored_engine(cache):
    build = Builder()
    first = cache.get_or_build(export(MLP), build, example_inputs=(X,))
    assert not first.hit and build.calls == 1
    second = cache.get_or_build(export(MLP, seed=1), build, example_inputs=(X,))
    assert second.hit and build.calls == 1
    assert bytes(second.engine) == first.engine
    assert second.key == first.key and len(second.key) == 64


def test_metadata_records_refit_mode_tool_versions_and_creation_time(cache):
    before = int(time.time())
    cache.get_or_build(export(MLP), Builder(), example_inputs=(X,))
    hit = cache.get_or_build(export(MLP), Builder(), example_inputs=(X,))
    md = hit.metadata
    assert md["refit_mode"] == "refittable"
    assert md["tool_versions"]["torch"] == torch.__version__
    assert before <= md["created_unix"] <= int(time.time()) + 1
    assert len(md["weight_slots"]) == 4  # fc1.weight, fc1.bias, fc2.weight, fc2.bias


def test_renamed_parameters_hit_with_a_slot_map_to_the_cached_names(cache):
    ep_a, ep_b = export(MLP), export(RenamedMLP)
    cache.get_or_build(ep_a, Builder(), example_inputs=(X,))
    hit = cache.get_or_build(ep_b, Builder(), example_inputs=(X,))
    assert hit.hit
    info_b = cache.key(ep_b, example_inputs=(X,))
    assert set(hit.weight_slot_map) == set(info_b.weight_names)
    as_fqn = dict(zip(weight_access.fqn_names(ep_b, list(hit.weight_slot_map)),
                      weight_access.fqn_names(ep_a, list(hit.weight_slot_map.values()))))
    assert as_fqn == {
        "in_layer.weight": "fc1.weight", "in_layer.bias": "fc1.bias",
        "out_layer.weight": "fc2.weight", "out_layer.bias": "fc2.bias",
    }


def test_slot_map_refit_reproduces_the_current_model(cache):
    """Refitting the cached model's state under the mapped names gives the renamed model's outputs."""
    cache.get_or_build(export(MLP), Builder(), example_inputs=(X,))
    torch.manual_seed(5)
    renamed = RenamedMLP().eval()
    ep_b = torch.export.export(renamed, (X,))
    hit = cache.get_or_build(ep_b, Builder(), example_inputs=(X,))
    names_b = list(hit.weight_slot_map)
    tensors = weight_access.resolve(ep_b, names_b)
    cached_fqns = weight_access.fqn_names(export(MLP), [hit.weight_slot_map[n] for n in names_b])
    target = MLP().eval()
    target.load_state_dict(dict(zip(cached_fqns, tensors)))
    assert torch.equal(target(X), renamed(X))


def test_fx_graph_module_hits_too(cache):
    build = Builder()
    gm1 = torch.fx.symbolic_trace(MLP())
    gm2 = torch.fx.symbolic_trace(MLP())
    assert not cache.get_or_build(gm1, build, example_inputs=(X,)).hit
    assert cache.get_or_build(gm2, build, example_inputs=(X,)).hit
    assert build.calls == 1


def test_different_structure_misses(cache):
    build = Builder()
    cache.get_or_build(export(MLP), build, example_inputs=(X,))
    res = cache.get_or_build(export(TanhMLP), build, example_inputs=(X,))
    assert not res.hit and build.calls == 2


def test_engine_relevant_settings_change_the_key_others_do_not(cache):
    ep = export(MLP)
    base = cache.key(ep, (X,), settings={"precision": "fp16", "log_level": "info"}, engine_relevant={"precision"})
    quiet = cache.key(ep, (X,), settings={"precision": "fp16", "log_level": "debug"}, engine_relevant={"precision"})
    fp32 = cache.key(ep, (X,), settings={"precision": "fp32", "log_level": "info"}, engine_relevant={"precision"})
    assert base.key == quiet.key
    assert base.key != fp32.key


def test_refit_mode_is_a_key_part(cache):
    ep = export(MLP)
    keys = {mode: cache.key(ep, (X,), refit_mode=mode).key for mode in ("refittable", "refit_identical", "none")}
    assert len(set(keys.values())) == 3


def test_unknown_refit_mode_is_refused(cache):
    with pytest.raises(ValueError, match="refit mode"):
        cache.key(export(MLP), (X,), refit_mode="sometimes")


def test_refittable_hit_ignores_weight_values_and_asks_for_a_refit(cache):
    build = Builder()
    cache.get_or_build(export(MLP, seed=0), build, example_inputs=(X,))
    hit = cache.get_or_build(export(MLP, seed=1), build, example_inputs=(X,))
    assert hit.hit and hit.refit_needed and build.calls == 1


@pytest.mark.parametrize("mode", ["refit_identical", "none"])
def test_weight_bound_engines_are_never_served_for_other_weights(cache, mode):
    build = Builder()
    ep0, ep1 = export(MLP, seed=0), export(MLP, seed=1)
    first = cache.get_or_build(ep0, build, example_inputs=(X,), refit_mode=mode)
    assert not first.hit and first.metadata["weight_fingerprint"]
    same = cache.get_or_build(export(MLP, seed=0), build, example_inputs=(X,), refit_mode=mode)
    assert same.hit and not same.refit_needed and build.calls == 1
    other = cache.get_or_build(ep1, build, example_inputs=(X,), refit_mode=mode)
    assert not other.hit and build.calls == 2
    assert other.key != first.key  # the fingerprint is in the key


def test_weight_bound_entry_with_a_stale_fingerprint_is_rebuilt_not_served(cache):
    """Even under the same key (a planted / stale entry), other weights are never served."""
    build = Builder()
    ep0 = export(MLP, seed=0)
    info0 = cache.key(ep0, (X,), refit_mode="refit_identical")
    cache.get_or_build(info0, build, model=ep0)
    other_weights = dict(export(MLP, seed=1).state_dict)
    info_forged = cache.key(ep0, (X,), refit_mode="refit_identical", weights=other_weights)
    assert info_forged.key != info0.key
    info_forged.info = info0.info  # same key as the stored entry, different current weights
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = cache.get_or_build(info_forged, build, model=ep0, weights=other_weights)
    assert not res.hit and build.calls == 2
    assert any("other weights" in str(w.message) for w in caught)


def test_weight_bound_mode_needs_the_weights(cache):
    ep = export(MLP)
    info = cache.key(ep, (X,))  # refittable key info ...
    info.refit_mode = "none"  # ... forced to a weight-bound mode without a fingerprint
    with pytest.raises(ValueError, match="binds the weights"):
        cache.get_or_build(info, Builder())


def test_engine_from_a_file_path(cache, tmp_path):
    path = tmp_path / "engine.plan"
    payload = os.urandom(300_000)
    path.write_bytes(payload)
    miss = cache.get_or_build(export(MLP), lambda info: str(path), example_inputs=(X,))
    assert not miss.hit and miss.engine == str(path)
    hit = cache.get_or_build(export(MLP), Builder(), example_inputs=(X,))
    assert hit.hit and bytes(hit.engine) == payload


def test_build_output_with_engine_weight_names(cache):
    ep = export(MLP)
    engine_names = ["W0", "B0", "W1", "B1"]
    cache.get_or_build(ep, lambda info: BuildOutput(b"trt-like", weight_slots=engine_names), example_inputs=(X,))
    hit = cache.get_or_build(export(RenamedMLP), Builder(), example_inputs=(X,))
    assert sorted(hit.weight_slot_map.values()) == sorted(engine_names)
    assert hit.metadata["weight_slots"] == engine_names


def test_build_output_with_wrong_slot_count_is_refused(cache):
    with pytest.raises(ValueError, match="weight slots"):
        cache.get_or_build(export(MLP), lambda info: BuildOutput(b"x", weight_slots=["only-one"]),
                           example_inputs=(X,))


def test_corrupt_entry_is_a_miss_and_is_rebuilt(cache, tmp_path):
    build = Builder()
    first = cache.get_or_build(export(MLP), build, example_inputs=(X,))
    files = [f for f in glob.glob(str(tmp_path / "cache" / "**" / first.key), recursive=True)]
    assert len(files) == 1
    with open(files[0], "r+b") as f:
        f.seek(os.path.getsize(files[0]) // 2)
        f.write(b"\xff" * 16)
    with pytest.warns(RuntimeWarning, match="corrupt"):
        res = cache.get_or_build(export(MLP), build, example_inputs=(X,))
    assert not res.hit and build.calls == 2
    assert cache.get_or_build(export(MLP), build, example_inputs=(X,)).hit


def _slow_build_worker(cache_dir, runs_file, start, results):
    """One job of a build farm: misses, and (if it is the builder) spends a second building."""
    cache = EngineCache(cache_dir)
    ep = export(MLP)

    def build(info):
        with open(runs_file, "a") as f:
            f.write("build\n")
        time.sleep(1.0)
        return f"engine for {info.key}".encode()

    start.wait()
    r = cache.get_or_build(ep, build, example_inputs=(X,))
    results.put((r.hit, bytes(r.engine)))


def test_concurrent_misses_build_once(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(4), ctx.Queue()
    runs = tmp_path / "runs.log"
    jobs = [ctx.Process(target=_slow_build_worker, args=(str(tmp_path / "cache"), str(runs), start, results))
            for _ in range(4)]
    for j in jobs:
        j.start()
    outcomes = [results.get(timeout=120) for _ in jobs]
    for j in jobs:
        j.join(timeout=60)
        assert j.exitcode == 0
    assert runs.read_text().count("build") == 1, "the other jobs wait for the first build instead of building"
    assert sorted(hit for hit, _ in outcomes) == [False, True, True, True]
    assert len({engine for _, engine in outcomes}) == 1
    assert os.listdir(tmp_path / "cache" / "locks") == [], "the build lock is released"


def test_build_lock_wait_is_bounded(tmp_path):
    cache = EngineCache(tmp_path / "cache", build_wait_seconds=0.3)
    key = "ab" * 32
    held = cache.store.build_lock(key, 0)
    assert held is not None and held.held
    start = time.monotonic()
    assert cache.store.build_lock(key, 0.3) is None  # held (by this process' other lock): gives up
    assert 0.25 <= time.monotonic() - start < 5
    held.release()
    with cache.store.build_lock(key, 0) as again:
        assert again.held


def test_tilde_path_is_the_home_directory(tmp_path, monkeypatch):
    # A newcomer writes EngineCache("~/engines"): that is $HOME/engines, never a "~" folder in the cwd.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    cache = EngineCache("~/engines")
    assert cache.path == str(tmp_path / "home" / "engines")
    assert (tmp_path / "home" / "engines").is_dir()
    assert not (tmp_path / "~").exists()


def test_secure_fingerprint_mode_is_reachable_and_keys_differently(tmp_path):
    # refit_mode="none" binds the weight fingerprint into the key; secure mode is another fingerprint.
    model = MLP()
    x = torch.randn(2, 8)
    ep = torch.export.export(model, (x,))
    fast = EngineCache(str(tmp_path / "fast")).key(ep, refit_mode="none")
    secure_cache = EngineCache(str(tmp_path / "secure"), secure_fingerprint=True)
    secure = secure_cache.key(ep, refit_mode="none")
    assert fast.key != secure.key
    assert secure_cache.key(ep, refit_mode="none").key == secure.key  # deterministic
    res = secure_cache.get_or_build(ep, lambda _info: b"engine", refit_mode="none")
    assert not res.hit
    assert secure_cache.get_or_build(ep, lambda _info: b"engine", refit_mode="none").hit


def test_full_disk_warns_and_returns_the_built_engine(tmp_path):
    """A put that cannot be written (here RLIMIT_FSIZE: writes past 64 KiB fail with EFBIG exactly where a
    full disk fails with ENOSPC) is a warning, like the C++ single-flight path: the build is not lost."""
    import resource
    import signal

    cache = EngineCache(tmp_path / "cache", max_bytes=64 << 20)
    big = b"\xab" * (1 << 20)
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the process is killed
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, old_limit[1]))
        with pytest.warns(RuntimeWarning, match="could not store the engine"):
            result = cache.get_or_build(export(MLP), lambda info: big, example_inputs=(X,))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert not result.hit and result.engine == big
    assert not glob.glob(str(tmp_path / "cache" / "*" / "*" / ".tmp*")), "a partial temp file was left"
    again = cache.get_or_build(export(MLP), lambda info: big, example_inputs=(X,))
    assert not again.hit  # nothing was stored; with room again, this put succeeds
    assert cache.get_or_build(export(MLP), lambda info: b"other", example_inputs=(X,)).hit
