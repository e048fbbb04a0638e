"""EngineCache.explain and the INFO log of a miss: every explanation kind (setting, toolchain, input spec,
refit mode, node, attribute, edge, none close) on real torch.export / fx models over the real C++ store,
locally and through a real redis-server; min_compile_seconds."""

import logging
import shutil
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphcache.engine_cache import EngineCache

REDIS = shutil.which("redis-server")
X = torch.randn(2, 8)


class Net(nn.Module):
    def __init__(self, act="relu", slope=0.25, swap=False, depth=4):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act, self.slope, self.swap, self.depth = act, slope, swap, depth

    def forward(self, x):
        h = F.leaky_relu(self.fc(x), self.slope)
        for _ in range(self.depth):
            h = h * 2.0 + x
        h = torch.relu(h) if self.act == "relu" else torch.sigmoid(h)
        return x - h if self.swap else h - x


class Unrelated(nn.Module):
    def forward(self, a):
        return torch.cumsum(a.abs(), 0)


def export(module):
    torch.manual_seed(0)
    return torch.export.export(module.eval(), (X,))


def build(info):
    return b"engine for " + info.key.encode()


@pytest.fixture
def cache(tmp_path):
    c = EngineCache(tmp_path / "cache")
    c.get_or_build(export(Net()), build, settings={"precision": "fp16"}, toolchain={"tensorrt": "10.3"})
    return c


def first(explanation):
    assert explanation.candidates, str(explanation)
    diffs = explanation.differences
    assert len(diffs) >= 1, str(explanation)
    return diffs[0]


def test_hit(cache):
    e = cache.explain(export(Net()), settings={"precision": "fp16"}, toolchain={"tensorrt": "10.3"})
    assert e.result == "hit"
    assert str(e).startswith("hit: ")


def test_setting_and_toolchain(cache):
    e = cache.explain(export(Net()), settings={"precision": "fp32"}, toolchain={"tensorrt": "10.4"})
    assert e.result == "same_structure"
    kinds = {d["kind"]: d for d in e.differences}
    assert kinds["setting"]["name"] == "precision"
    assert (kinds["setting"]["cached"], kinds["setting"]["current"]) == ('"fp16"', '"fp32"')
    assert (kinds["toolchain"]["cached"], kinds["toolchain"]["current"]) == ("10.3", "10.4")
    assert e.candidates[0]["model"] == "ExportedProgram"


def test_refit_mode(cache):
    e = cache.explain(export(Net()), settings={"precision": "fp16"}, toolchain={"tensorrt": "10.3"},
                      refit_mode="none")
    kinds = [d["kind"] for d in e.differences]
    assert "refit_mode" in kinds  # (plus the weight fingerprint setting that mode binds into the key)
    d = next(d for d in e.differences if d["kind"] == "refit_mode")
    assert (d["cached"], d["current"]) == ("refittable", "none")


def test_input_spec(tmp_path):
    c = EngineCache(tmp_path / "specs")
    gm = torch.fx.symbolic_trace(Net())
    spec = lambda hi: [{"min_shape": (1, 8), "opt_shape": (2, 8), "max_shape": (hi, 8), "dtype": torch.float32}]
    c.get_or_build(gm, build, example_inputs=spec(16))
    e = c.explain(gm, example_inputs=spec(32))
    d = first(e)
    assert d["kind"] == "input_spec"
    assert (d["cached"], d["current"]) == ("min 1x8 opt 2x8 max 16x8", "min 1x8 opt 2x8 max 32x8")


def test_node_attribute_edge(cache):
    kw = dict(settings={"precision": "fp16"}, toolchain={"tensorrt": "10.3"})
    node = first(cache.explain(export(Net(act="sigmoid")), **kw))
    assert node["kind"] == "node" and "relu" in node["cached"] and "sigmoid" in node["current"], node
    attr = first(cache.explain(export(Net(slope=0.5)), **kw))
    assert attr["kind"] == "attribute", attr
    assert "0.25" in attr["cached"] and "0.5" in attr["current"], attr
    edge = first(cache.explain(export(Net(swap=True)), **kw))
    assert edge["kind"] == "edge", edge
    assert "operand 0 of node" in edge["text"], edge


def test_none_close(cache):
    e = cache.explain(export(Unrelated()), settings={"precision": "fp16"})
    assert e.result == "none_close"
    assert e.candidates == []


def test_miss_logs_the_explanation_at_info(cache, caplog):
    with caplog.at_level(logging.INFO, logger="graphcache"):
        r = cache.get_or_build(export(Net()), build, settings={"precision": "int8"}, toolchain={"tensorrt": "10.3"})
    assert not r.hit
    assert "setting precision: '\"fp16\"' in the cached entry, '\"int8\"' now" in caplog.text


def test_min_compile_seconds_skips_cheap_builds(tmp_path):
    c = EngineCache(tmp_path / "cheap", min_compile_seconds=60)
    calls = []
    for _ in range(2):
        r = c.get_or_build(export(Net()), lambda info: calls.append(1) or b"engine")
        assert not r.hit
    assert len(calls) == 2 and c.store.list() == []
    slow = EngineCache(tmp_path / "slow", min_compile_seconds=0.05)
    slow.get_or_build(export(Net()), lambda info: time.sleep(0.1) or b"engine")
    assert slow.get_or_build(export(Net()), build).hit


@pytest.mark.skipif(REDIS is None, reason="redis-server is installed by scripts/setup.sh")
def test_over_redis_from_another_machine(tmp_path, redis_server):
    url = f"{redis_server[0]}?prefix=explain:"
    EngineCache(tmp_path / "builder", remote=url).get_or_build(export(Net()), build, settings={"precision": "fp16"})
    worker = EngineCache(tmp_path / "worker", remote=url)  # its local tier is empty
    e = worker.explain(export(Net()), settings={"precision": "fp32"})
    assert e.result == "same_structure" and e.candidates[0]["tier"] == "redis", str(e)
    assert first(e)["kind"] == "setting"
    node = worker.explain(export(Net(act="sigmoid")), settings={"precision": "fp16"})
    assert first(node)["kind"] == "node", str(node)


def test_events_go_through_the_graphcache_logger(tmp_path, caplog):
    c = EngineCache(tmp_path / "events")
    with caplog.at_level(logging.DEBUG, logger="graphcache"):
        c.get_or_build(export(Net()), build)
        c.get_or_build(export(Net()), build)
    events = [r.graphcache_event for r in caplog.records if hasattr(r, "graphcache_event")]
    assert [e["event"] for e in events] == ["miss", "put", "hit"], events
    assert events[1]["bytes"] == len(build(c.key(export(Net())))) and events[2]["tier"] == "local"
