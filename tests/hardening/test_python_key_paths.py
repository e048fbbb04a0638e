"""Keys with path characters through the Python LocalStore binding (get/put/remove/build_lock): refused
with graphcache.InvalidArgumentError before anything touches the disk. Complements
tests/python/test_local_store_binding.py::test_invalid_keys_and_metadata_are_rejected_before_touching_disk
(which covers get/put with a few keys) with remove and more path shapes."""

from __future__ import annotations

import os

import pytest

import graphcache

VALID = "a" * 64
HOSTILE = [
    "../../etc/passwd",
    "../" + VALID[3:],
    "/" + VALID[1:],
    VALID[:63] + "/",
    "aa\0" + VALID[3:],
    VALID[:62] + "\\.",
    VALID + "/../x",
    "A" * 64,
    "",
]


@pytest.mark.parametrize("key", HOSTILE)
def test_path_characters_are_refused_by_every_method(tmp_path, key):
    store = graphcache.LocalStore(tmp_path / "cache")
    (tmp_path / "engine.bin").write_bytes(b"engine")
    with pytest.raises(graphcache.InvalidArgumentError, match="invalid key"):
        store.get(key)
    with pytest.raises(graphcache.InvalidArgumentError, match="invalid key"):
        store.put(key, b"engine", None)
    with pytest.raises(graphcache.InvalidArgumentError, match="invalid key"):
        store.put(key, tmp_path / "engine.bin", None)
    with pytest.raises(graphcache.InvalidArgumentError, match="invalid key"):
        store.remove(key)
    with pytest.raises(graphcache.InvalidArgumentError, match="invalid key"):
        store.build_lock(key, 0)  # a lock file is named after the key: it must not become a path either
    assert not (tmp_path / "cache" / "locks").exists() or os.listdir(tmp_path / "cache" / "locks") == []
    stored = [name for _, _, files in os.walk(tmp_path / "cache") for name in files if len(name) == 64]
    assert stored == []
    assert sorted(os.listdir(tmp_path)) == ["cache", "engine.bin"]
