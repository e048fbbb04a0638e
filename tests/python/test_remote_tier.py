"""The shared Redis tier from Python, against a real redis-server on loopback: an engine put on one
"machine" (cache directory) is a hit on another, read-only remotes are not written, and a dead Redis
falls back to the local tier."""
import shutil
import socket
import time
import warnings

import pytest

from graphcache import _core
from graphcache.engine_cache import EngineCache

REDIS = shutil.which("redis-server")
# A missing redis-server fails these tests (scripts/setup.sh installs it) instead of skipping them.
assert REDIS is not None, "redis-server is not installed: run scripts/setup.sh"


@pytest.fixture
def redis_url(redis_server):
    base, proc = redis_server
    yield f"{base}?prefix=pytest:&timeout_ms=500", proc


KEY = "ab" * 32


def test_engine_put_on_one_machine_hits_on_another(tmp_path, redis_url):
    url, _ = redis_url
    builder = _core.LocalStore(tmp_path / "builder", remote=url)
    builder.put(KEY, b"engine bytes" * 1000, {"refit_mode": "refittable"})

    worker = _core.LocalStore(tmp_path / "worker", remote=url)
    hit = worker.get(KEY)
    assert hit is not None
    engine, metadata = hit
    assert bytes(engine) == b"engine bytes" * 1000
    assert metadata["refit_mode"] == "refittable"
    assert set(worker.tier_stats()) == {"local", "redis"}
    # Written back locally: a local-only store on the worker's directory now has it too.
    assert _core.LocalStore(tmp_path / "worker").get(KEY) is not None


def test_read_only_remote_is_never_written(tmp_path, redis_url):
    url, _ = redis_url
    reader = _core.LocalStore(tmp_path / "reader", remote=url, remote_read_only=True)
    reader.put(KEY, b"local only", None)
    assert _core.LocalStore(tmp_path / "other", remote=url).get(KEY) is None


def test_dead_redis_falls_back_to_local_with_a_warning(tmp_path, redis_url):
    url, proc = redis_url
    cache = EngineCache(tmp_path / "cache", remote=url)
    proc.kill()
    proc.wait()
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.store.put(KEY, b"still cached locally", None)
        hit = cache.store.get(KEY)
    assert time.monotonic() - start < 5
    assert hit is not None and bytes(hit[0]) == b"still cached locally"
    assert any("redis" in str(w.message).lower() or "remote" in str(w.message).lower() for w in caught)


def test_build_lock_is_shared_across_machines_through_redis(tmp_path, redis_url):
    url, _ = redis_url
    a = _core.LocalStore(tmp_path / "host_a", remote=url)
    b = _core.LocalStore(tmp_path / "host_b", remote=url)
    held = a.build_lock(KEY, 0)
    assert held is not None and held.held
    assert b.build_lock(KEY, 0.3) is None, "another host's build of the key holds the Redis lock"
    held.release()
    with b.build_lock(KEY, 0) as lock:
        assert lock.held
    # A read-only consumer takes no lock in the shared instance: only its own host's file lock.
    reader = _core.LocalStore(tmp_path / "host_c", remote=url, remote_read_only=True)
    held = a.build_lock(KEY, 0)
    with reader.build_lock(KEY, 0) as local_only:
        assert local_only.held
    held.release()


def test_build_lock_falls_back_to_a_host_lock_when_redis_dies(tmp_path, redis_url):
    url, proc = redis_url
    store = _core.LocalStore(tmp_path / "host", remote=url)
    proc.kill()
    proc.wait()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lock = store.build_lock(KEY, 0)
    assert lock is not None and lock.held
    assert any("build lock" in str(w.message) for w in caught)
    lock.release()


class _HostileRedis:
    """A RESP server on loopback that answers SCAN with a wrong-typed reply and GET with a 4 GB claim:
    the binding must turn these into misses or graphcache errors, never a crash."""

    def __init__(self):
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _reply(self, command: bytes) -> bytes:
        if b"SCAN" in command:
            return b"*2\r\n:1\r\n:2\r\n"  # cursor and keys of the wrong type
        if b"GET" in command:
            return b"$4000000000\r\n"  # and then nothing
        if b"HGETALL" in command:
            return b":7\r\n"
        return b":0\r\n"

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(0.2)
            with conn:
                while not self.stop:
                    try:
                        data = conn.recv(65536)
                    except socket.timeout:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    try:
                        conn.sendall(self._reply(data))
                    except OSError:
                        break

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def test_hostile_redis_server_is_a_miss_or_an_error_never_a_crash(tmp_path):
    server = _HostileRedis()
    try:
        url = f"redis://127.0.0.1:{server.port}?timeout_ms=500&connect_timeout_ms=500"
        store = _core.LocalStore(tmp_path / "cache", remote=url)
        start = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert store.get(KEY) is None
            for op in (lambda: store.list(), lambda: store.stats(), lambda: store.put(KEY, b"x" * 100, None)):
                try:
                    op()
                except _core.Error:
                    pass
        assert time.monotonic() - start < 10
    finally:
        server.close()
