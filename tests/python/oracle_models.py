"""Model families and variants for the differential oracle (test_differential_oracle.py).

Each variant is (name, module factory, input factory); variants of one family differ in one thing each:
an op, a constant, the weights (seed), an index buffer's values, the input memory format, the output
structure. Everything is small so that exporting ~80 variants and compiling a few of them with Inductor
stays within CI time on two CPU cores."""

from __future__ import annotations

import collections
import math
from typing import Callable, List, Tuple

import torch
from torch import nn
from torch.nn import functional as F

ACTS = {"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh, "silu": F.silu}
Pair = collections.namedtuple("Pair", "main aux")


def shape_output(y: torch.Tensor, out: str):
    aux = y.sum(-1)
    if out == "tensor":
        return y
    if out == "tuple":
        return (y, aux)
    if out == "list":
        return [y, aux]
    if out == "dict_ab":
        return {"a": y, "b": aux}
    if out == "dict_ba":
        return {"b": aux, "a": y}
    if out == "named":
        return Pair(y, aux)
    raise ValueError(out)


class MLP(nn.Module):
    """Small params included: an out-features-2 bias, a PReLU(1) slope, a scalar parameter, an index buffer."""

    def __init__(self, act="relu", scale=2.0, idx=(1, 0), out="tensor", hidden=16):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(8, hidden), nn.Linear(hidden, 2)
        self.prelu = nn.PReLU(1)
        self.gain = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("idx", torch.tensor(idx))
        self.act, self.scale, self.out = act, scale, out

    def forward(self, x):
        y = self.prelu(self.fc2(ACTS[self.act](self.fc1(x)))) * self.gain * self.scale
        return shape_output(y[:, self.idx], self.out)


class CNN(nn.Module):
    def __init__(self, k=3, pad=1, act="relu", out="tensor"):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, k, padding=pad)
        self.bn = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, 4)
        self.act, self.out = act, out

    def forward(self, x):
        y = ACTS[self.act](self.bn(self.conv(x)))
        return shape_output(self.head(y.mean((2, 3))), self.out)


class Block(nn.Module):
    def __init__(self, heads=2, causal=True, dim=16, out="tensor"):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim)
        self.heads, self.causal, self.out = heads, causal, out

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).chunk(3, -1)
        q, k, v = (z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return shape_output(x + self.fc2(F.gelu(self.fc1(self.ln2(x)))), self.out)


class MatW(nn.Module):
    """A weight stored transposed (non-contiguous) or not: compiled code indexes it with its strides."""

    def __init__(self, transposed=True, out="tensor"):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 8).t() if transposed else torch.randn(8, 4))
        self.out = out

    def forward(self, x):
        return shape_output(x @ self.w, self.out)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(dim)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Decoder(nn.Module):
    """HF-style decoder layer stack built from code: token embedding, position ids and a causal mask as
    buffers (integer / bool: keyed by value), rotary-free attention, SiLU-gated MLP, tied LM head."""

    def __init__(self, vocab=32, dim=16, heads=2, layers=1, pos_offset=0, window=None, out="tensor"):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(16, dim)
        self.register_buffer("position_ids", torch.arange(8) + pos_offset)
        mask = torch.ones(8, 8, dtype=torch.bool).tril()
        if window is not None:
            mask &= torch.ones(8, 8, dtype=torch.bool).triu(-window)
        self.register_buffer("mask", mask)
        self.norms = nn.ModuleList(RMSNorm(dim) for _ in range(2 * layers + 1))
        self.qkv = nn.ModuleList(nn.Linear(dim, 3 * dim, bias=False) for _ in range(layers))
        self.o = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(layers))
        self.gate = nn.ModuleList(nn.Linear(dim, 2 * dim, bias=False) for _ in range(layers))
        self.up = nn.ModuleList(nn.Linear(dim, 2 * dim, bias=False) for _ in range(layers))
        self.down = nn.ModuleList(nn.Linear(2 * dim, dim, bias=False) for _ in range(layers))
        self.heads, self.layers, self.out = heads, layers, out

    def forward(self, tokens):
        b, t = tokens.shape
        h = self.embed(tokens) + self.pos(self.position_ids[:t])
        for i in range(self.layers):
            q, k, v = self.qkv[i](self.norms[2 * i](h)).chunk(3, -1)
            q, k, v = (z.reshape(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
            s = s.masked_fill(~self.mask[:t, :t], float("-inf"))
            h = h + self.o[i]((s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1))
            n = self.norms[2 * i + 1](h)
            h = h + self.down[i](F.silu(self.gate[i](n)) * self.up[i](n))
        logits = self.norms[-1](h) @ self.embed.weight.t()
        return shape_output(logits, self.out)


Variant = Tuple[str, Callable[[], nn.Module], Callable[[], Tuple[torch.Tensor, ...]]]


def _randomize(module: nn.Module, seed: int) -> nn.Module:
    """Every float parameter and float buffer gets fresh values (new weights); BN stats stay positive."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if not t.is_floating_point():
                continue
            if "running_var" in name:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
    return module.eval()


def _inputs(kind: str, layout: str = "contiguous"):
    def make():
        g = torch.Generator().manual_seed(1234)
        if kind in ("mlp", "matw"):
            return (torch.randn(4, 8, generator=g),)
        if kind == "cnn":
            x = torch.randn(2, 3, 8, 8, generator=g)
            return (x.to(memory_format=torch.channels_last) if layout == "channels_last" else x,)
        if kind == "block":
            return (torch.randn(2, 8, 16, generator=g),)
        if kind == "decoder":
            return (torch.randint(0, 32, (2, 8), generator=g),)
        raise ValueError(kind)

    return make


def variants(seeds=(0, 1)) -> List[Variant]:
    configs = []
    for act in ("relu", "gelu"):
        for scale in (2.0, 3.0):
            for idx in ((1, 0), (0, 1)):
                configs.append(("mlp", dict(act=act, scale=scale, idx=idx), "contiguous"))
    for out in ("tuple", "list", "dict_ab", "dict_ba", "named"):
        configs.append(("mlp", dict(out=out), "contiguous"))
    for k, pad in ((3, 1), (3, 0), (5, 2)):
        for layout in ("contiguous", "channels_last"):
            configs.append(("cnn", dict(k=k, pad=pad), layout))
    configs.append(("cnn", dict(act="silu"), "contiguous"))
    for heads in (2, 4):
        for causal in (True, False):
            configs.append(("block", dict(heads=heads, causal=causal), "contiguous"))
    for pos_offset in (0, 1):
        for window in (None, 2):
            configs.append(("decoder", dict(pos_offset=pos_offset, window=window), "contiguous"))
    configs.append(("decoder", dict(out="dict_ab"), "contiguous"))
    for transposed in (True, False):
        configs.append(("matw", dict(transposed=transposed), "contiguous"))
    classes = {"mlp": MLP, "cnn": CNN, "block": Block, "decoder": Decoder, "matw": MatW}
    out: List[Variant] = []
    for kind, kwargs, layout in configs:
        for seed in seeds:
            name = f"{kind}{kwargs}/{layout}/seed{seed}"
            out.append(
                (name, lambda c=classes[kind], kw=kwargs, s=seed: _randomize(c(**kw), s), _inputs(kind, layout))
            )
    return out
