"""`python -m graphcache.demo`: the AOTInductor round trip through graphcache, in three processes.

  1. export a small transformer (seed 0 weights) -> key -> miss -> compile a weight-stripped .pt2 -> store
  2. a NEW process, DIFFERENT weights (seed 1) -> key -> hit -> load the package -> load the new weights
     as constants (the refit) -> run; compare with eager PyTorch
  3. a model with a different structure (GELU -> ReLU in one block) -> key -> miss; graphcache.diff says why

Options: --cache-dir DIR (default: a fresh temporary directory), --device cpu|cuda.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, activation: str = "gelu") -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        h = self.fc1(self.ln2(x))
        h = torch.nn.functional.gelu(h) if self.activation == "gelu" else torch.relu(h)
        return x + self.fc2(h)


class TinyTransformer(nn.Module):
    """Token embedding, `layers` pre-norm blocks, final norm, LM head. Tiny dims: CPU-fast to compile."""

    def __init__(self, vocab: int = 64, dim: int = 32, heads: int = 4, layers: int = 2, activations=None) -> None:
        super().__init__()
        activations = activations or ["gelu"] * layers
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, act) for act in activations)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def make_model(seed: int, variant: str = "base", device: str = "cpu") -> TinyTransformer:
    torch.manual_seed(seed)
    activations = ["gelu", "gelu"] if variant == "base" else ["gelu", "relu"]
    return TinyTransformer(activations=activations).to(device).eval()


def example_tokens(device: str = "cpu") -> torch.Tensor:
    return torch.randint(0, 64, (1, 8), generator=torch.Generator().manual_seed(123)).to(device)


def worker(cache_dir: str, seed: int, variant: str, device: str, compile_allowed: bool = True) -> dict:
    """One process's part of the round trip; returns what happened (JSON-able)."""
    from . import aoti
    from .engine_cache import EngineCache

    model = make_model(seed, variant, device)
    tokens = example_tokens(device)
    start = time.perf_counter()
    ep = torch.export.export(model, (tokens,))
    export_s = time.perf_counter() - start
    cache = EngineCache(cache_dir)
    if not compile_allowed:
        info = aoti.cache_key(cache, ep, (tokens,))
        report = {"hit": cache.lookup(info) is not None, "key": _hex(info.key), "export_s": export_s}
        if variant != "base":  # explain the miss against the base model's structure
            import graphcache

            base = torch.export.export(make_model(seed, "base", device), (tokens,))
            report["diff"] = graphcache.diff(base, ep)[:4]
        return report
    result = aoti.get_or_compile(cache, ep, (tokens,))  # its temp folder is removed when it returns
    with torch.no_grad():
        out = result.runner(tokens)
        out = out[0] if isinstance(out, (list, tuple)) else out
        ref = model(tokens)
    return {
        "hit": result.cache.hit,
        "key": result.cache.key,
        "export_s": export_s,
        "timings": result.timings,
        "max_abs_err": (out - ref).abs().max().item(),
        "allclose": bool(torch.allclose(out, ref, rtol=1e-4, atol=1e-4)),
        "weight_slot_map_size": len(result.cache.weight_slot_map),
        "refit_mode": result.cache.metadata.get("refit_mode"),
    }


def run_worker_process(cache_dir: str, seed: int, variant: str, device: str, compile_allowed: bool = True) -> dict:
    cmd = [sys.executable, "-m", "graphcache.demo", "--worker", "--cache-dir", cache_dir, "--seed", str(seed),
           "--variant", variant, "--device", device] + ([] if compile_allowed else ["--lookup-only"])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("GRAPHCACHE_DEMO ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"demo worker failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads(line[len("GRAPHCACHE_DEMO "):])


def _hex(key) -> str:
    return key if isinstance(key, str) else key.hex()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphcache.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lookup-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="base", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        cache_dir = args.cache_dir
        report = worker(cache_dir, args.seed, args.variant, args.device, not args.lookup_only)
        print("GRAPHCACHE_DEMO " + json.dumps(report), flush=True)
        return 0

    if args.cache_dir:
        return _demo(args.cache_dir, args.device)
    with tempfile.TemporaryDirectory(prefix="graphcache-demo-cache-") as cache_dir:  # removed afterwards
        return _demo(cache_dir, args.device)


def _demo(cache_dir: str, device: str) -> int:
    print(f"graphcache AOTInductor demo (torch {torch.__version__}, device {device}, cache {cache_dir})")
    first = run_worker_process(cache_dir, 0, "base", device)
    t = first["timings"]
    print(f"[process 1, weights seed 0] key {first['key'][:16]}  {'HIT' if first['hit'] else 'MISS'}: "
          f"key {_ms(t['key'])}, compile (weight-stripped .pt2) {_ms(t.get('compile', 0))}, "
          f"load {_ms(t['load'])}, load weights {_ms(t['refit'])}; max |out - eager| = {first['max_abs_err']:.2e}")
    second = run_worker_process(cache_dir, 1, "base", device)
    t = second["timings"]
    reuse = t["key"] + t.get("fetch", 0) + t["load"] + t["refit"]
    print(f"[process 2, weights seed 1] key {second['key'][:16]}  {'HIT' if second['hit'] else 'MISS'}: "
          f"key {_ms(t['key'])}, fetch {_ms(t.get('fetch', 0))}, load {_ms(t['load'])}, "
          f"refit (new weights as constants) {_ms(t['refit'])}; max |out - eager(new weights)| = "
          f"{second['max_abs_err']:.2e} (allclose: {second['allclose']})")
    third = run_worker_process(cache_dir, 0, "relu", device, compile_allowed=False)
    print(f"[process 3, one GELU -> ReLU] key {third['key'][:16]}  {'HIT' if third['hit'] else 'MISS'}; graphcache.diff:")
    for line in third.get("diff", []):
        print(f"    {line}")
    if "compile" in first["timings"]:
        print(f"cached reuse took {_ms(reuse)} = {100 * reuse / first['timings']['compile']:.2f}% of compiling")
    ok = second["hit"] and second["allclose"] and not third["hit"]
    print("round trip OK" if ok else "round trip FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
