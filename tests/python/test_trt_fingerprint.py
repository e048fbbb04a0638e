"""Weight fingerprints of what Torch-TensorRT subgraphs hold: strided tensors (by logical contents) and
CUDA tensors when the extension has no CUDA kernel (through host copies instead of an error)."""

import pytest
import torch

from graphcache import weight_access


@pytest.mark.skipif(not weight_access.has_native_fingerprint(), reason="extension without weight_fingerprint")
def test_strided_views_fingerprint_like_their_contiguous_copy():
    base = torch.randn(16, 8)
    for view in (base.t(), base[:, ::2], base.t()[2:5], torch.randn(4, 4, 4).permute(2, 0, 1)):
        assert not view.is_contiguous()
        named = {"w": view}
        dense = {"w": view.contiguous()}
        assert weight_access.fingerprint(None, ["w"], named) == weight_access.fingerprint(None, ["w"], dense)
    assert weight_access.fingerprint(None, ["w"], {"w": base.t()}) != weight_access.fingerprint(
        None, ["w"], {"w": base.t().contiguous() + 1})


class _CudaLooking:
    """A CPU tensor presented as a CUDA tensor (this CI has no GPU): device.type == "cuda", .cpu() copies."""

    def __init__(self, t):
        self.t = t
        self.device = torch.device("cuda", 0)
        self.copies = 0

    def detach(self):
        return self

    def is_contiguous(self):
        return True

    def cpu(self):
        self.copies += 1
        return self.t.clone()


def test_cuda_tensors_without_a_cuda_build_use_host_copies(monkeypatch):
    calls = []

    def native(tensors):
        calls.append([getattr(t, "device", None) for t in tensors])
        if any(t.device.type == "cuda" for t in tensors):
            raise RuntimeError("weight_fingerprint: unsupported: built without CUDA")
        return "ab" * 32

    monkeypatch.setattr(weight_access, "_native_fingerprint_fn", lambda: native)
    w = _CudaLooking(torch.randn(3, 3))
    assert weight_access.fingerprint(None, ["w"], {"w": w}) == "ab" * 32
    assert w.copies == 1 and len(calls) == 2


def test_other_native_errors_are_not_swallowed(monkeypatch):
    def native(tensors):
        raise ValueError("weight_fingerprint: tensor 0 is on the meta device (no data)")

    monkeypatch.setattr(weight_access, "_native_fingerprint_fn", lambda: native)
    with pytest.raises(ValueError, match="meta"):
        weight_access.fingerprint(None, ["w"], {"w": torch.randn(2)})
