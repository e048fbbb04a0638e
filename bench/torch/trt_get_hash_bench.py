"""get_hash cost: graphcache's GraphcacheTRTEngineCache.get_hash vs Torch-TensorRT's stock
BaseEngineCache.get_hash, on the same >= 2,000-node Llama-like TensorRT subgraph, medians side by side.

The subgraph is what torch_tensorrt 2.13.0 itself hands to the cache: the model is exported, lowered
(pre_export_lowering, get_decompositions, post_lowering) and partitioned (fast_partition); the largest
TensorRT subgraph and its construct_submodule_inputs() specs are hashed by both. On a machine without
TensorRT the `tensorrt` package is the test stand-in (tests/python/trt_standin); neither get_hash calls
into TensorRT.

    .venv/bin/python bench/torch/trt_get_hash_bench.py [--layers 36] [--hidden 256] [--repeat 31]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "python"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=36)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=31)
    ap.add_argument("--refit-identical", action="store_true", help="also bind the weight fingerprint")
    args = ap.parse_args()

    import torch

    try:
        import torch_tensorrt  # noqa: F401  (a real TensorRT install)
    except Exception:  # noqa: BLE001
        for name in [m for m in sys.modules if m == "torch_tensorrt" or m.startswith("torch_tensorrt.")]:
            del sys.modules[name]
        import trt_standin

        trt_standin.import_torch_tensorrt()
    from torch_tensorrt.dynamo import partitioning
    from torch_tensorrt.dynamo._engine_cache import BaseEngineCache
    from torch_tensorrt.dynamo._settings import CompilationSettings
    from torch_tensorrt.dynamo.lowering import get_decompositions, post_lowering, pre_export_lowering

    from graphcache.torch_tensorrt_cache import GraphcacheTRTEngineCache
    import llama_model

    cfg = llama_model.LlamaConfig(hidden=args.hidden, layers=args.layers, heads=max(1, args.hidden // 64),
                                  intermediate=args.hidden * 11 // 4, vocab=1000, max_seq=max(64, args.seq))
    model = llama_model.build(cfg, dtype=torch.float32)
    settings = CompilationSettings(min_block_size=1, immutable_weights=False, cache_built_engines=True,
                                   reuse_cached_engines=True, refit_identical_engine_weights=args.refit_identical)
    t0 = time.perf_counter()
    ep = torch.export.export(model, (torch.randint(0, cfg.vocab, (1, args.seq)),))
    ep = pre_export_lowering(ep, settings)
    ep = ep.run_decompositions(get_decompositions(False))
    gm = post_lowering(ep.module(), settings)
    parted, _ = partitioning.fast_partition(gm, min_block_size=1, torch_executed_ops=set())
    subs = [getattr(parted, n) for n, _ in parted.named_children() if "_run_on_acc" in n]
    sub = max(subs, key=lambda m: len(m.graph.nodes))
    specs = partitioning.construct_submodule_inputs(sub)
    nodes = len(sub.graph.nodes)
    print(f"subgraph: {nodes} nodes ({len(subs)} TensorRT subgraphs), prepared in {time.perf_counter() - t0:.1f} s")
    if nodes < 2000:
        print("WARNING: fewer than 2,000 nodes; raise --layers")

    ours = GraphcacheTRTEngineCache.get_hash
    stock = BaseEngineCache.get_hash
    assert ours(sub, specs, settings) is not None
    times = {"graphcache": [], "stock": []}
    for _ in range(3):  # warm-up
        ours(sub, specs, settings), stock(sub, specs, settings)
    for i in range(args.repeat):  # interleaved, alternating which goes first
        order = (("graphcache", ours), ("stock", stock)) if i % 2 == 0 else (("stock", stock), ("graphcache", ours))
        for name, fn in order:
            t = time.perf_counter()
            fn(sub, specs, settings)
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}  # robust to other processes taking the CPU
    print(f"torch {torch.__version__}, torch_tensorrt {sys.modules['torch_tensorrt'].__version__}, "
          f"Python {sys.version.split()[0]}, refit_identical={args.refit_identical}, median of {args.repeat}")
    print("                         median        min")
    print(f"  graphcache get_hash : {med['graphcache'] * 1e3:8.3f} ms {low['graphcache'] * 1e3:8.3f} ms")
    print(f"  stock get_hash      : {med['stock'] * 1e3:8.3f} ms {low['stock'] * 1e3:8.3f} ms")
    print(f"  ratio ours/stock    : {med['graphcache'] / med['stock']:8.2f}x    {low['graphcache'] / low['stock']:8.2f}x")


if __name__ == "__main__":
    main()
