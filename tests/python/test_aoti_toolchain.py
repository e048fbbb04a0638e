"""graphcache.aoti's compiler choice and package loading (python/graphcache/aoti_toolchain.py): the
compiler is a key factor, a missing compiler is a clear error before any compile, and a package the
loader cannot open is refused through a child process - the caller gets an exception, never a crash."""

import os

import pytest
import torch

from graphcache import aoti, aoti_toolchain
from graphcache.engine_cache import EngineCache


@pytest.fixture(autouse=True)
def fresh_choice(monkeypatch):
    aoti_toolchain.cpp_compiler.cache_clear()
    yield
    aoti_toolchain.cpp_compiler.cache_clear()


def small_program():
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU())
    x = torch.randn(2, 8)
    return torch.export.export(model, (x,)), (x,)


def test_compiler_is_g_plus_plus_on_path_by_default(monkeypatch):
    monkeypatch.delenv("GRAPHCACHE_AOTI_CXX", raising=False)
    monkeypatch.setenv("CXX", "/nonexistent/wrapper-g++")  # the environment's CXX is not what AOTI uses
    assert os.path.basename(aoti_toolchain.cpp_compiler()) == "g++"
    identity = aoti_toolchain.toolchain()["cxx"]
    assert "g++" in identity and os.path.isabs(identity.split()[0])


def test_the_compiler_changes_the_key(tmp_path, monkeypatch):
    ep, inputs = small_program()
    cache = EngineCache(str(tmp_path))
    base = aoti.cache_key(cache, ep, inputs).key
    monkeypatch.setattr(aoti_toolchain, "toolchain", lambda: {"cxx": "/opt/other/g++ 99.0"})
    assert aoti.cache_key(cache, ep, inputs).key != base


def test_missing_compiler_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHCACHE_AOTI_CXX", str(tmp_path / "no-such-g++"))
    with pytest.raises(aoti_toolchain.AotiToolchainError, match="does not run"):
        aoti_toolchain.toolchain()


def test_a_package_that_does_not_load_is_an_error_not_a_crash(tmp_path):
    bogus = tmp_path / "model.pt2"
    bogus.write_bytes(b"PK\x03\x04 this is no AOTInductor package")
    with pytest.raises(aoti_toolchain.AotiToolchainError, match="does not load"):
        aoti_toolchain.check_loads(str(bogus), timeout_s=120)
