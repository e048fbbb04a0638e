"""Models for the fx / export key tests (random weights): MLP, CNN, a transformer block and a small
Llama-style decoder. `names` renames every attribute (parameters, buffers, submodules) without changing the
architecture; `order` reverses the definition order. key_of keys one through torch.fx.symbolic_trace ("fx")
or torch.export ("export").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import graphcache

class Named(nn.Module):
    def __init__(self, names: dict | None):
        super().__init__()
        self._names = dict(names or {})

    def n(self, name: str) -> str:
        return self._names.get(name, name)

    def put(self, name: str, module: nn.Module) -> None:
        setattr(self, self.n(name), module)

    def get(self, name: str):
        return getattr(self, self.n(name))


class MLP(Named):
    def __init__(self, names=None, hidden=16, act="relu", bias=True):
        super().__init__(names)
        self.put("fc1", nn.Linear(8, hidden, bias=bias))
        self.put("fc2", nn.Linear(hidden, 4, bias=bias))
        self.act = act

    def forward(self, x):
        h = self.get("fc1")(x)
        h = F.relu(h) if self.act == "relu" else F.gelu(h)
        return self.get("fc2")(h)


class CNN(Named):
    def __init__(self, names=None, stride=1, padding=1):
        super().__init__(names)
        self.put("conv", nn.Conv2d(3, 8, 3, stride=stride, padding=padding))
        self.put("bn", nn.BatchNorm2d(8))
        self.put("head", nn.Linear(8, 10))

    def forward(self, x):
        h = F.relu(self.get("bn")(self.get("conv")(x)))
        h = F.adaptive_avg_pool2d(h, 1).flatten(1)
        return self.get("head")(h)


class Attention(Named):
    def __init__(self, dim, heads, names=None, causal=False, diagonal=1):
        super().__init__(names)
        self.dim, self.heads, self.causal, self.diagonal = dim, heads, causal, diagonal
        self.put("q", nn.Linear(dim, dim, bias=False))
        self.put("k", nn.Linear(dim, dim, bias=False))
        self.put("v", nn.Linear(dim, dim, bias=False))
        self.put("o", nn.Linear(dim, dim, bias=False))

    def forward(self, x, cos=None, sin=None):
        b, t, d = x.size(0), x.size(1), self.dim
        hd = d // self.heads
        q = self.get("q")(x).view(b, t, self.heads, hd).transpose(1, 2)
        k = self.get("k")(x).view(b, t, self.heads, hd).transpose(1, 2)
        v = self.get("v")(x).view(b, t, self.heads, hd).transpose(1, 2)
        if cos is not None:
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        s = (q @ k.transpose(-2, -1)) * (hd**-0.5)
        if self.causal:
            mask = torch.ones_like(s, dtype=torch.bool).triu(self.diagonal)
            s = s.masked_fill(mask, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        return self.get("o")(a.transpose(1, 2).reshape(b, t, d))


def rotate(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class TransformerBlock(Named):
    def __init__(self, names=None, dim=32, heads=4, eps=1e-5, approximate="none"):
        super().__init__(names)
        self.approximate = approximate
        self.put("ln1", nn.LayerNorm(dim, eps=eps))
        self.put("attn", Attention(dim, heads, names))
        self.put("ln2", nn.LayerNorm(dim, eps=eps))
        self.put("up", nn.Linear(dim, 4 * dim))
        self.put("down", nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.get("attn")(self.get("ln1")(x))
        return x + self.get("down")(F.gelu(self.get("up")(self.get("ln2")(x)), approximate=self.approximate))


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class DecoderLayer(Named):
    def __init__(self, dim, heads, inter, names=None, diagonal=1, eps=1e-6):
        super().__init__(names)
        self.put("attn_norm", RMSNorm(dim, eps))
        self.put("attn", Attention(dim, heads, names, causal=True, diagonal=diagonal))
        self.put("mlp_norm", RMSNorm(dim, eps))
        self.put("gate", nn.Linear(dim, inter, bias=False))
        self.put("up", nn.Linear(dim, inter, bias=False))
        self.put("down", nn.Linear(inter, dim, bias=False))

    def forward(self, x, cos, sin):
        x = x + self.get("attn")(self.get("attn_norm")(x), cos, sin)
        h = self.get("mlp_norm")(x)
        return x + self.get("down")(F.silu(self.get("gate")(h)) * self.get("up")(h))


class TinyLlama(Named):
    def __init__(self, names=None, vocab=64, dim=32, heads=4, inter=64, layers=2, tied=False, diagonal=1,
                 eps=1e-6):
        super().__init__(names)
        self.put("embed", nn.Embedding(vocab, dim))
        self.put("layers", nn.ModuleList([DecoderLayer(dim, heads, inter, names, diagonal, eps) for _ in range(layers)]))
        self.put("norm", RMSNorm(dim, eps))
        self.put("lm_head", nn.Linear(dim, vocab, bias=False))
        if tied:
            self.get("lm_head").weight = self.get("embed").weight
        hd = dim // heads
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        freqs = torch.outer(torch.arange(128).float(), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer(self.n("cos"), emb.cos(), persistent=False)
        self.register_buffer(self.n("sin"), emb.sin(), persistent=False)

    def forward(self, tokens):
        t = tokens.shape[1]
        cos, sin = torch.narrow(self.get("cos"), 0, 0, t), torch.narrow(self.get("sin"), 0, 0, t)
        h = self.get("embed")(tokens)
        for layer in self.get("layers"):
            h = layer(h, cos, sin)
        return self.get("lm_head")(self.get("norm")(h))


RENAMES = {
    "fc1": "first", "fc2": "second", "conv": "c0", "bn": "norm0", "head": "classifier", "q": "wq", "k": "wk",
    "v": "wv", "o": "wo", "ln1": "pre_attn", "ln2": "pre_mlp", "attn": "self_attention", "up": "w3",
    "down": "w2", "gate": "w1", "attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm",
    "embed": "tok_embeddings", "layers": "blocks", "norm": "final_norm", "lm_head": "output", "cos": "rope_cos",
    "sin": "rope_sin",
}


def tokens(b=2, t=16, vocab=64, dtype=torch.long):
    return torch.randint(0, vocab, (b, t), dtype=dtype)


MODELS = {
    "mlp": (lambda names=None: MLP(names), lambda: (torch.randn(2, 8),)),
    "cnn": (lambda names=None: CNN(names), lambda: (torch.randn(2, 3, 16, 16),)),
    "transformer_block": (lambda names=None: TransformerBlock(names), lambda: (torch.randn(2, 16, 32),)),
    "llama": (lambda names=None: TinyLlama(names), lambda: (tokens(),)),
}


def key_of(model: nn.Module, inputs, mode: str, **kw) -> graphcache.KeyInfo:
    model = model.eval()
    if mode == "fx":
        return graphcache.key(torch.fx.symbolic_trace(model), example_inputs=inputs, **kw)
    return graphcache.key(torch.export.export(model, inputs, strict=False), **kw)


def model_key(name: str, mode: str, renamed: bool = False) -> str:
    make, inputs = MODELS[name]
    return key_of(make(RENAMES if renamed else None), inputs(), mode).key
