"""Time to key a torch.export Llama-style decoder, side by side in one process (CPU, no GPU needed).

Prints, for the same ExportedProgram:
  graphcache.key(ep)           the full key (C++ walk + Merkle SHA-256), weight bytes never read
  _core.graph_stats(ep)        the C++ walk alone (fx graph -> IR), to show where the time goes
  op_target string hash        Torch-TensorRT's old key (DESIGN.md): fast, but unsound
and the ratios. Dims default to a narrow 32-layer model (the node count of Llama2-7b, small tensors, so
export is quick on a laptop); --hidden 4096 --intermediate 11008 --vocab 32000 gives the real 7b shapes
(bench/torch/llama_key_bench.py runs that one on the device machine, with the weight-hash baselines).

Usage: .venv/bin/python bench/python_key/key_time.py [--layers 32] [--hidden 64] [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

import graphcache
from graphcache import _core

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
import llama_model  # noqa: E402  (the shared Llama-2-style model of the benchmarks)
from baseline_keys import op_target_hash  # noqa: E402  (DESIGN.md's unsound key)


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=128)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--repeat", type=int, default=30)
    args = p.parse_args()

    cfg = llama_model.LlamaConfig(hidden=args.hidden, layers=args.layers, heads=args.heads,
                                  intermediate=args.intermediate, vocab=args.vocab, max_seq=max(args.seq, 256))
    model = llama_model.build(cfg, dtype=torch.float16)
    start = time.perf_counter()
    ep = torch.export.export(model, (torch.zeros(1, args.seq, dtype=torch.long),), strict=False)
    export_s = time.perf_counter() - start
    nodes = len(ep.graph.nodes)

    info = graphcache.key(ep)
    # Interleaved, one run of each per round: a burst of load from other processes hits all three alike.
    runs = {"key": [], "walk": [], "op": []}
    fns = {"key": lambda: graphcache.key(ep), "walk": lambda: _core.graph_stats(ep),
           "op": lambda: op_target_hash(ep.graph_module)}
    for _ in range(args.repeat):
        for name, fn in fns.items():
            runs[name].append(median_ms(fn, 1))
    key_ms, walk_ms, op_ms = (statistics.median(runs[k]) for k in ("key", "walk", "op"))
    print(f"model: {args.layers} layers, hidden {args.hidden}, {nodes} fx nodes, {len(info.weight_names)} weight "
          f"slots; export {export_s:.1f} s; torch {torch.__version__}; median of {args.repeat}")
    print(f"{'graphcache.key (full key)':32s} {key_ms:8.3f} ms   {key_ms * 1e3 / nodes:6.2f} us/node")
    print(f"{'  of which C++ walk fx -> IR':32s} {walk_ms:8.3f} ms")
    print(f"{'op_target string hash':32s} {op_ms:8.3f} ms   {op_ms * 1e3 / nodes:6.2f} us/node")
    print(f"ratio graphcache.key / op_target: {key_ms / op_ms:.2f}x (min {min(runs['key']) / min(runs['op']):.2f}x);  "
          f"vs the seed's 323 s pickle key: {323.0 / (key_ms / 1e3):,.0f}x faster")


if __name__ == "__main__":
    main()
