"""graphcache._core.LocalStore: the C++ local store through its Python binding, on real files."""

from __future__ import annotations

import hashlib
import os

import pytest

import graphcache
from graphcache import _core


def key_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


METADATA = {
    "key_parts": {"structure": key_hex("s"), "settings": key_hex("t")},
    "input_names": ["x"],
    "output_names": ["y", "z"],
    "weight_slots": ["fc1.weight", "fc1.bias"],
    "weight_fingerprint": key_hex("weights"),
    "refit_mode": "refittable",
    "tool_versions": {"torch": "2.13.0"},
    "extra": {"note": "hello"},
    "created_unix": 1700000000,
}


def test_put_get_round_trip_from_bytes_and_from_a_file(tmp_path):
    store = graphcache.LocalStore(tmp_path / "cache")
    engine = os.urandom(100_000)
    store.put(key_hex("a"), engine, METADATA)
    got = store.get(key_hex("a"))
    assert got is not None
    view, metadata = got
    assert isinstance(view, memoryview) and view.readonly
    assert bytes(view) == engine
    assert metadata == METADATA

    path = tmp_path / "engine.bin"
    path.write_bytes(b"engine from a file" * 1000)
    store.put(key_hex("b"), path, {"refit_mode": "none"})
    view, metadata = store.get(key_hex("b"))
    assert bytes(view) == path.read_bytes()
    assert metadata["refit_mode"] == "none" and metadata["weight_fingerprint"] is None
    assert metadata["created_unix"] > 0  # filled in by the store

    assert {e["key"] for e in store.list()} == {key_hex("a"), key_hex("b")}
    stats = store.stats()
    assert stats["puts"] == 2 and stats["hits"] == 2 and stats["entries"] == 2


def test_miss_remove_and_stats(tmp_path):
    store = graphcache.LocalStore(str(tmp_path))
    assert store.get(key_hex("missing")) is None
    store.put(key_hex("a"), b"x" * 10, None)
    assert store.remove(key_hex("a")) is True
    assert store.remove(key_hex("a")) is False
    assert store.get(key_hex("a")) is None
    stats = store.stats()
    assert stats["misses"] == 2 and stats["entries"] == 0


def test_invalid_keys_and_metadata_are_rejected_before_touching_disk(tmp_path):
    store = graphcache.LocalStore(tmp_path)
    for bad in ["", "abc", "../../etc/passwd", "g" * 64, key_hex("a") + "0"]:
        with pytest.raises(graphcache.InvalidArgumentError):
            store.get(bad)
        with pytest.raises(ValueError):  # InvalidArgumentError is also a ValueError
            store.put(bad, b"x", None)
    with pytest.raises(graphcache.InvalidArgumentError, match="unknown metadata field"):
        store.put(key_hex("a"), b"x", {"refit": "typo"})
    with pytest.raises(graphcache.InvalidArgumentError):
        store.put(key_hex("a"), b"x", {"weight_fingerprint": "not hex"})
    assert store.list() == []


def test_a_corrupt_entry_is_a_miss_with_a_warning_and_is_removed(tmp_path):
    store = graphcache.LocalStore(tmp_path)
    k = key_hex("a")
    store.put(k, os.urandom(4096), METADATA)
    path = store.entry_path(k)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)
    with pytest.warns(RuntimeWarning, match="graphcache"):
        assert store.get(k) is None
    assert not os.path.exists(path)
    assert store.stats()["corrupt"] == 1


def test_an_engine_view_outlives_removal_of_its_entry(tmp_path):
    store = graphcache.LocalStore(tmp_path)
    engine = os.urandom(1 << 20)
    store.put(key_hex("a"), engine, None)
    view, _ = store.get(key_hex("a"))
    store.remove(key_hex("a"))
    del store
    assert bytes(view) == engine


def test_entry_cap_evicts_down_to_the_limit(tmp_path):
    store = graphcache.LocalStore(tmp_path, max_entries=3)
    assert store.max_entries == 3
    for i in range(6):
        store.put(key_hex(str(i)), bytes([i]) * 100, None)
    store.gc()
    assert len(store.list()) <= 3
    assert store.stats()["evictions"] >= 3


def test_core_exposes_the_store_class():
    assert graphcache.LocalStore is _core.LocalStore


def test_remote_comes_from_the_argument_else_the_environment(tmp_path, monkeypatch):
    # One StoreConfig: the remote tier follows the precedence of every setting (argument > env > file), and
    # EngineCache's explain() reads the tier the store resolved. Nothing connects until first use.
    from graphcache.engine_cache import EngineCache

    monkeypatch.delenv("GRAPHCACHE_REMOTE", raising=False)
    (tmp_path / "empty.conf").write_text("")
    monkeypatch.setenv("GRAPHCACHE_CONFIG", str(tmp_path / "empty.conf"))
    assert _core.LocalStore(tmp_path / "a").remote is None
    monkeypatch.setenv("GRAPHCACHE_REMOTE", "redis://127.0.0.1:1/0?prefix=env:")
    assert _core.LocalStore(tmp_path / "b").remote == "redis://127.0.0.1:1/0?prefix=env:"
    assert EngineCache(tmp_path / "c").remote == "redis://127.0.0.1:1/0?prefix=env:"
    arg = "redis://127.0.0.1:1/1?prefix=arg:"
    assert _core.LocalStore(tmp_path / "d", remote=arg).remote == arg
    monkeypatch.delenv("GRAPHCACHE_REMOTE")
    (tmp_path / "graphcache.conf").write_text("remote = redis://127.0.0.1:1/2\n")
    monkeypatch.setenv("GRAPHCACHE_CONFIG", str(tmp_path / "graphcache.conf"))
    assert _core.LocalStore(tmp_path / "e").remote == "redis://127.0.0.1:1/2"
