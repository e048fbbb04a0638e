"""The C++ walker's shortcuts read what Python would: FakeTensor.device is read from the tensor's fields
only while the class is the one whose property code was checked and the fake mode is outside a kernel;
otherwise the property itself answers (a patched class, a mode inside a kernel)."""

from __future__ import annotations

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensor

import graphcache


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        return self.lin(x).relu()


def _export():
    return torch.export.export(_Net(), (torch.randn(2, 4),))


def _weight_fakes(ep):
    return [n.meta["val"] for n in ep.graph.nodes if n.op == "placeholder" and isinstance(n.meta.get("val"), FakeTensor)]


def _layout(ep) -> str:
    return dict(graphcache._core.key_export(ep)["structural_settings"])["graphcache.torch.layout"]


def test_fake_tensor_device_read_matches_the_property(monkeypatch):
    ep = _export()
    fast = graphcache.key(ep)
    original = FakeTensor.__dict__["device"]
    # The same answer through a different property object: the walker must take the property (and agree).
    monkeypatch.setattr(FakeTensor, "device", property(lambda self: original.fget(self)))
    assert graphcache.key(ep).key == fast.key
    # A patched class decides what .device is: its answer reaches the key.
    monkeypatch.setattr(FakeTensor, "device", property(lambda self: torch.device("meta")))
    assert graphcache.key(ep).key != fast.key
    assert _layout(ep).endswith("weights=meta;")
    monkeypatch.undo()
    assert _layout(ep).endswith("weights=cpu;")


def test_fake_tensor_device_inside_a_kernel_is_meta(monkeypatch):
    ep = _export()
    outside = graphcache.key(ep).key
    fakes = _weight_fakes(ep)
    assert fakes, "the export lifts its weights to placeholders with FakeTensor metadata"
    mode = fakes[0].fake_mode
    monkeypatch.setattr(FakeTensor, "device", property(lambda self: torch.device("meta")))
    as_meta = graphcache.key(ep).key
    monkeypatch.undo()
    assert as_meta != outside
    monkeypatch.setattr(mode, "in_kernel_invocation", True)
    assert all(f.device == torch.device("meta") for f in fakes)
    assert graphcache.key(ep).key == as_meta  # what the property answers inside a kernel
    monkeypatch.setattr(mode, "in_kernel_invocation", False)
    assert graphcache.key(ep).key == outside


def test_weight_names_are_the_signature_targets_and_a_fingerprint_callable_gets_its_own_list():
    ep = _export()
    targets = {s.target for s in ep.graph_signature.input_specs if s.target is not None}
    given = []

    def fingerprint(names):
        given.append(list(names))
        names.clear()  # the caller's list: the key's own names must not change with it
        return "ab" * 32

    info = graphcache.key(ep, weight_fingerprint=fingerprint)
    assert given == [info.weight_names]
    assert sorted(info.weight_names) == sorted(targets) and len(info.weight_names) == 2
    assert info.metadata["weight_slots"] == info.weight_names
    assert all(type(n) is str for n in info.weight_names)
    assert info.key != graphcache.key(ep).key  # the fingerprint is keyed
