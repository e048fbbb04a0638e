"""Signed entries and bundles from Python, with real key files written by the openssl command line: the
store bindings, the environment variables, EngineCache, the Redis tier (a real redis-server), aoti (a
real AOTInductor compile in worker processes) and the Torch-TensorRT engine cache class all sign on put
and, with require_signature, serve only entries signed by a trusted key."""
import os
import shutil
import subprocess
import warnings

import pytest

import graphcache
from graphcache import _core
from graphcache.engine_cache import EngineCache

KEY = "cd" * 32
ENGINE = bytes(range(256)) * 400


def _keypair(folder, name):
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(private)], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True)
    return str(private), str(public)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return {"ci": _keypair(folder, "ci"), "other": _keypair(folder, "other")}


def _get_quietly(store, key):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return store.get(key), [str(w.message) for w in caught]


def test_binding_signs_and_enforces(tmp_path, keys):
    writer = _core.LocalStore(tmp_path, signing_key=keys["ci"][0])
    writer.put(KEY, ENGINE, {"extra": {"tool": "test"}})
    engine, metadata = _core.LocalStore(tmp_path, trusted_keys=[keys["ci"][1]], require_signature=True).get(KEY)
    assert bytes(engine) == ENGINE
    assert metadata["signature"].startswith("ed25519:")

    strict = _core.LocalStore(tmp_path, trusted_keys=[keys["other"][1]], require_signature=True)
    hit, messages = _get_quietly(strict, KEY)
    assert hit is None
    assert any("not trusted" in m for m in messages)
    assert strict.stats()["untrusted"] == 1
    report = _core.LocalStore(tmp_path, trusted_keys=[keys["ci"][1]]).verify()
    assert report["signed_trusted"] == 1 and report["unsigned"] == 0


def test_tampered_metadata_is_refused(tmp_path, keys):
    _core.LocalStore(tmp_path, signing_key=keys["ci"][0]).put(KEY, ENGINE, {"refit_mode": "none"})
    _, metadata = _core.LocalStore(tmp_path).get(KEY)
    metadata["refit_mode"] = "refittable"  # swapped metadata, signature kept
    _core.LocalStore(tmp_path).put(KEY, ENGINE, metadata)
    hit, messages = _get_quietly(_core.LocalStore(tmp_path, trusted_keys=[keys["ci"][1]], require_signature=True),
                                 KEY)
    assert hit is None and any("bad signature" in m for m in messages)


def test_environment_variables_configure_engine_cache(tmp_path, keys, monkeypatch):
    monkeypatch.setenv("GRAPHCACHE_SIGNING_KEY", keys["ci"][0])
    EngineCache(tmp_path).store.put(KEY, ENGINE, {})
    monkeypatch.delenv("GRAPHCACHE_SIGNING_KEY")
    _core.LocalStore(tmp_path / "unsigned").put(KEY, ENGINE, {})
    monkeypatch.setenv("GRAPHCACHE_TRUSTED_KEYS", os.path.dirname(keys["ci"][1]))  # a folder of keys
    monkeypatch.setenv("GRAPHCACHE_REQUIRE_SIGNATURE", "on")
    assert EngineCache(tmp_path).store.get(KEY) is not None
    hit, _ = _get_quietly(EngineCache(tmp_path / "unsigned").store, KEY)
    assert hit is None
    # Explicit arguments win over the environment.
    assert EngineCache(tmp_path / "unsigned", require_signature=False).store.get(KEY) is not None
    monkeypatch.setenv("GRAPHCACHE_REQUIRE_SIGNATURE", "perhaps")
    with pytest.raises(ValueError, match="GRAPHCACHE_REQUIRE_SIGNATURE"):
        EngineCache(tmp_path)


def test_engine_cache_rebuilds_instead_of_serving_an_untrusted_engine(tmp_path, keys):
    torch = pytest.importorskip("torch")

    class Tiny(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x) * 2

    x = torch.randn(2, 3)
    program = torch.export.export(Tiny(), (x,))
    builds = []

    def build(info):
        builds.append(info.key)
        return b"engine built by the trusted builder"

    # Someone with write access plants an engine under the right key, without the key to sign it.
    attacker = EngineCache(tmp_path)
    planted = attacker.get_or_build(program, lambda info: b"planted engine", example_inputs=(x,))
    assert not planted.hit
    cache = EngineCache(tmp_path, signing_key=keys["ci"][0], trusted_keys=[keys["ci"][1]], require_signature=True)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        first = cache.get_or_build(program, build, example_inputs=(x,))
    assert not first.hit and len(builds) == 1  # refused, rebuilt, stored signed
    second = cache.get_or_build(program, build, example_inputs=(x,))
    assert second.hit and bytes(second.engine) == b"engine built by the trusted builder" and len(builds) == 1


REDIS = shutil.which("redis-server")


@pytest.mark.skipif(REDIS is None, reason="redis-server is installed by scripts/setup.sh")
def test_redis_tier_signs_and_enforces(tmp_path, keys, redis_server):
    url = f"{redis_server[0]}?prefix=signing:"
    _core.LocalStore(tmp_path / "ci", remote=url, signing_key=keys["ci"][0]).put(KEY, ENGINE, {})
    _core.LocalStore(tmp_path / "attacker", remote=url).put("ab" * 32, ENGINE, {})
    fleet = _core.LocalStore(tmp_path / "fleet", remote=url, trusted_keys=[keys["ci"][1]],
                             require_signature=True)
    engine, _ = fleet.get(KEY)
    assert bytes(engine) == ENGINE
    hit, messages = _get_quietly(fleet, "ab" * 32)
    assert hit is None and any("unsigned" in m for m in messages)
    assert fleet.tier_stats()["redis"]["untrusted"] == 1
    revoked = _core.LocalStore(tmp_path / "fleet2", remote=url, trusted_keys=[keys["other"][1]],
                               require_signature=True)
    assert _get_quietly(revoked, KEY)[0] is None


def test_bundle_round_trip_and_tampering(tmp_path, keys):
    source = _core.LocalStore(tmp_path / "ci", signing_key=keys["ci"][0])
    for i in range(3):
        source.put(f"{i:02x}" * 32, ENGINE + bytes([i]), {})
    report = source.bundle_create(tmp_path / "b.gcb")
    assert report["entries"] == 3 and report["signed"] and report["unsigned_entries"] == 0
    target = _core.LocalStore(tmp_path / "fleet", trusted_keys=[keys["ci"][1]], require_signature=True)
    imported = target.bundle_import(tmp_path / "b.gcb")
    assert imported["entries"] == 3 and imported["signed"]
    assert bytes(target.get("01" * 32)[0]) == ENGINE + b"\x01"

    data = bytearray((tmp_path / "b.gcb").read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / "bad.gcb").write_bytes(bytes(data))
    fresh = _core.LocalStore(tmp_path / "fresh")
    with pytest.raises(graphcache.CorruptError, match="bundle"):
        fresh.bundle_import(tmp_path / "bad.gcb")
    assert fresh.list() == []
    one = source.bundle_create(tmp_path / "one.gcb", keys=["02" * 32])
    assert one["entries"] == 1


def test_torch_tensorrt_class_signs_through_the_bindings(tmp_path, keys, monkeypatch):
    pytest.importorskip("torch")
    import test_trt_protocol as trt  # the protocol's input/settings types and the Sub graph
    from graphcache import torch_tensorrt_cache as ttc

    def open_cache():
        return ttc.GraphcacheTRTEngineCache(str(tmp_path / "trt"), 1 << 26, trusted_modules=trt.TRUSTED)

    gm, _ = trt.gm_of(trt.Sub)
    monkeypatch.setenv("GRAPHCACHE_SIGNING_KEY", keys["ci"][0])
    writer = open_cache()
    h = writer.get_hash(gm, trt.INPUTS, trt.TRTSettings())
    entry = (b"serialized trt engine", ["x", "y"], ["out"], trt.INPUTS, trt.TRTSettings(), False, False, {})
    writer.insert(h, entry)
    monkeypatch.delenv("GRAPHCACHE_SIGNING_KEY")
    monkeypatch.setenv("GRAPHCACHE_TRUSTED_KEYS", keys["ci"][1])
    monkeypatch.setenv("GRAPHCACHE_REQUIRE_SIGNATURE", "1")
    assert open_cache().check(h)[0] == b"serialized trt engine"
    monkeypatch.setenv("GRAPHCACHE_TRUSTED_KEYS", keys["other"][1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert open_cache().check(h) is None


def test_aoti_worker_processes_sign_and_enforce(tmp_path, keys, monkeypatch):
    pytest.importorskip("torch")
    from graphcache import demo

    cache_dir = str(tmp_path / "aoti")
    monkeypatch.setenv("GRAPHCACHE_SIGNING_KEY", keys["ci"][0])
    first = demo.run_worker_process(cache_dir, seed=0, variant="base", device="cpu")
    assert not first["hit"]
    monkeypatch.delenv("GRAPHCACHE_SIGNING_KEY")
    monkeypatch.setenv("GRAPHCACHE_REQUIRE_SIGNATURE", "on")
    monkeypatch.setenv("GRAPHCACHE_TRUSTED_KEYS", keys["ci"][1])
    assert demo.run_worker_process(cache_dir, seed=1, variant="base", device="cpu", compile_allowed=False)["hit"]
    monkeypatch.setenv("GRAPHCACHE_TRUSTED_KEYS", keys["other"][1])
    assert not demo.run_worker_process(cache_dir, seed=1, variant="base", device="cpu", compile_allowed=False)["hit"]
