"""Key cost on Llama-2-7b dimensions, and AOTInductor compile-from-scratch vs cached reuse.

Part 1 (one process, side by side): Llama-2-7b dims (hidden 4096, 32 layers, intermediate 11008,
vocab 32000), fp16, random weights, torch.export(strict=False) on input 1x128, then
  (a) graphcache.key(ep)                                       - structure, no weight bytes
  (b) the op_target-string hash (Torch-TensorRT's replacement key; DESIGN.md)
  (c) SHA-256 over all weight bytes (what a content key costs)
  (d) pickle of the graph module + weights, then SHA-256 (the seed's 323 s key), time-limited
Part 2: a 4-layer model of the same dims: compile-from-scratch (weight-stripped AOTInductor package,
cold inductor cache) in one process, then cached reuse (key + fetch + load + refit) in a NEW process
with different weights, checked against eager. Target: reuse <= 5% of compile.

Usage: python bench/torch/llama_key_bench.py [--device cuda] [--layers 32] [--e2e-layers 4 32] [--out results/x.txt]
       python bench/torch/llama_key_bench.py --small      (CPU smoke run with tiny dims)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_model  # noqa: E402
from baseline_keys import op_target_hash  # noqa: E402

SEED_PICKLE_SECONDS = 323.0  # the seed's pickle-based key on Llama2-7b (DESIGN.md)


def weight_sha256(ep) -> str:
    h = hashlib.sha256()
    for _, tensor in sorted({**ep.state_dict, **ep.constants}.items()):
        flat = tensor.detach().contiguous().reshape(-1).view(torch.uint8).cpu()
        h.update(memoryview(flat.numpy()))
    return h.hexdigest()


def pickle_hash(ep) -> str:
    blob = pickle.dumps((ep.graph_module, dict(ep.state_dict), dict(ep.constants)))
    return hashlib.sha256(blob).hexdigest()


def timed(fn, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return value, times


class _Timeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Timeout()


def part1(cfg, device: str, pickle_limit_s: int, log) -> dict:
    import graphcache

    start = time.perf_counter()
    model = llama_model.build(cfg, torch.float16, device)
    if device == "cuda":
        torch.cuda.synchronize()
    log(f"model: {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B params, built in "
        f"{time.perf_counter() - start:.1f} s on {device}")
    ids = torch.randint(0, cfg.vocab, (1, 128), device=device)
    start = time.perf_counter()
    ep = torch.export.export(model, (ids,), strict=False)
    log(f"torch.export(strict=False): {time.perf_counter() - start:.1f} s, {len(ep.graph.nodes)} nodes")

    info, t_a = timed(lambda: graphcache.key(ep, example_inputs=(ids,)), 21)
    _, t_b = timed(lambda: op_target_hash(ep.graph_module), 21)
    _, t_c = timed(lambda: weight_sha256(ep), 1)
    row = {"a_graphcache_key_s": statistics.median(t_a), "b_op_target_s": statistics.median(t_b),
           "c_weight_sha256_s": t_c[0], "weight_slots": len(info.weight_names)}
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(pickle_limit_s)
    try:
        _, t_d = timed(lambda: pickle_hash(ep), 1)
        row["d_pickle_s"] = t_d[0]
    except _Timeout:
        row["d_pickle_s"] = None
        row["d_note"] = f"did not finish within {pickle_limit_s} s"
    except Exception as e:  # noqa: BLE001 - report that it no longer runs
        row["d_pickle_s"] = None
        row["d_note"] = f"failed: {type(e).__name__}: {e}"[:200]
    finally:
        signal.alarm(0)

    a = row["a_graphcache_key_s"]
    log("")
    log(f"{'method':<44}{'seconds':>12}{'x (a)':>12}")
    log(f"{'(a) graphcache.key (median of 21)':<44}{a:>12.6f}{1.0:>12.1f}")
    log(f"{'(b) op_target string + SHA-256 (median of 21)':<44}{row['b_op_target_s']:>12.6f}"
        f"{row['b_op_target_s'] / a:>12.1f}")
    log(f"{'(c) SHA-256 over all weight bytes':<44}{row['c_weight_sha256_s']:>12.3f}{row['c_weight_sha256_s'] / a:>12.0f}")
    if row["d_pickle_s"] is not None:
        log(f"{'(d) pickle(graph module + weights) + SHA-256':<44}{row['d_pickle_s']:>12.3f}{row['d_pickle_s'] / a:>12.0f}")
    else:
        log(f"{'(d) pickle(graph module + weights) + SHA-256':<44}{'-':>12}  {row['d_note']}")
    log(f"(a) vs the seed's {SEED_PICKLE_SECONDS:.0f} s pickle key: {SEED_PICKLE_SECONDS / a:,.0f}x faster "
        f"(target >= 100,000x); (a) <= (b): {a <= row['b_op_target_s']}")
    log(f"key {info.key}  structure {info.parts.get('structure', '') if isinstance(info.parts, dict) else ''}")
    del ep, model
    if device == "cuda":
        torch.cuda.empty_cache()
    return row


def _child_argv(args, role: str, cache_dir: str, seed: int, layers: int) -> list:
    return [sys.executable, os.path.abspath(__file__), "--role", role, "--cache-dir", cache_dir,
            "--seed", str(seed), "--device", args.device, "--e2e-layers", str(layers)] + (
        ["--small"] if args.small else []) + (["--keep-constants"] if args.keep_constants else [])


def e2e_role(args, cfg) -> None:
    """Runs in a fresh process: export, then graphcache get_or_compile; prints one JSON line."""
    import faulthandler

    from graphcache import aoti
    from graphcache.engine_cache import EngineCache

    faulthandler.enable()  # a crash inside a compiler or loader still says where
    if os.environ.get("GRAPHCACHE_BENCH_HANG_DUMP_S"):  # and a hang too
        faulthandler.dump_traceback_later(int(os.environ["GRAPHCACHE_BENCH_HANG_DUMP_S"]), exit=True)
    model = llama_model.build(cfg, torch.float16 if args.device == "cuda" else torch.float32, args.device,
                              seed=args.seed)
    ids = torch.randint(0, cfg.vocab, (1, 128 if not args.small else 16), device=args.device,
                        generator=torch.Generator(args.device).manual_seed(7))
    start = time.perf_counter()
    ep = torch.export.export(model, (ids,), strict=False)
    export_s = time.perf_counter() - start
    cache = EngineCache(args.cache_dir)
    start = time.perf_counter()
    configs = {"aot_inductor.package_constants_in_so": True} if args.keep_constants else None
    # Process 1 compiles and stores only: every load happens in a fresh process (process 2).
    res = aoti.get_or_compile(cache, ep, (ids,), inductor_configs=configs, load=args.role != "compile",
                              workdir=tempfile.mkdtemp(prefix="gc-bench-"), progress=_stage)
    if res.runner is None:
        print("RESULT " + json.dumps({"hit": res.cache.hit, "export_s": export_s, "timings": res.timings,
                                      "max_abs_err": float("nan"), "ref_max_abs": float("nan"),
                                      "package_bytes": os.path.getsize(res.cache.engine), "key": res.cache.key}),
              flush=True)
        return
    total_s = time.perf_counter() - start
    _stage("run")
    with torch.no_grad():
        start = time.perf_counter()
        out = res.runner(ids)
        out = out[0] if isinstance(out, (list, tuple)) else out
        if args.device == "cuda":
            torch.cuda.synchronize()
        res.timings["first_run"] = time.perf_counter() - start
        ref = model(ids)
    err = (out.float() - ref.float()).abs().max().item()
    scale = ref.float().abs().max().item()
    pkg_bytes = len(res.cache.engine) if res.cache.hit else os.path.getsize(res.cache.engine)
    print("RESULT " + json.dumps({"hit": res.cache.hit, "export_s": export_s, "total_s": total_s,
                                  "timings": res.timings, "refit_needed": res.cache.refit_needed, "max_abs_err": err, "ref_max_abs": scale,
                                  "package_bytes": pkg_bytes, "key": res.cache.key}), flush=True)


def _stage(name: str) -> None:
    print(f"stage: {name}", file=sys.stderr, flush=True)


def part2(args, layers: int, log) -> dict:
    """Cold (process 1: export, key, compile weight-stripped, store) vs warm (process 2, new weights:
    export, key, fetch, load, refit, first run), every stage of both processes counted."""
    cache_dir = tempfile.mkdtemp(prefix="gc-e2e-cache-")
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": tempfile.mkdtemp(prefix="gc-inductor-cold-")}
    results = []
    for role, seed in (("compile", 0), ("reuse", 1)):
        start = time.perf_counter()
        proc = subprocess.run(_child_argv(args, role, cache_dir, seed, layers), env=env, capture_output=True,
                              text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            log(f"e2e {role} failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            return {}
        results.append({**json.loads(line[len("RESULT "):]), "process_s": time.perf_counter() - start})
    cold, warm = results
    stages = ["warmup", "export", "key", "compile", "store", "fetch", "load", "refit", "first_run"]

    def row(r):
        return {"export": r["export_s"], **r["timings"]}

    cold_row, warm_row = row(cold), row(warm)
    kind = "package with the weights in it" if args.keep_constants else "weight-stripped package"
    log("")
    log(f"end to end, {layers}-layer model, AOTInductor {kind} ({cold['package_bytes'] / 1e6:.1f} MB), "
        f"device {args.device}")
    log(f"  {'stage (s)':<12}{'cold (seed 0)':>16}{'warm (seed 1)':>16}")
    for stage in stages:
        c, w = cold_row.get(stage), warm_row.get(stage)
        if c is None and w is None:
            continue
        log(f"  {stage:<12}{'-' if c is None else f'{c:.3f}':>16}{'-' if w is None else f'{w:.3f}':>16}")
    cold_total = sum(cold_row.get(k, 0) for k in stages)
    warm_total = sum(warm_row.get(k, 0) for k in stages)
    log(f"  {'total':<12}{cold_total:>16.3f}{warm_total:>16.3f}   warm / cold = {100 * warm_total / cold_total:.2f}% "
        f"(target <= 5%)")
    no_export = warm_total - warm_row["export"]
    log(f"  warm without export (key+fetch+load+refit+run, the cache's part): {no_export:.3f} s = "
        f"{100 * no_export / cold_total:.2f}% of cold")
    log(f"  whole processes (python start, imports, model build included): cold {cold['process_s']:.1f} s, "
        f"warm {warm['process_s']:.1f} s")
    log(f"  warm: hit={warm['hit']}  refit needed (weight fingerprint differs): {warm['refit_needed']}  "
        f"max|err| vs eager with the current weights {warm['max_abs_err']:.3g} (|ref| max {warm['ref_max_abs']:.3g})")
    return {"cold": cold, "warm": warm, "cold_total": cold_total, "warm_total": warm_total}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--e2e-layers", type=int, nargs="+", default=[4])
    parser.add_argument("--small", action="store_true", help="tiny dims for a CPU smoke run")
    parser.add_argument("--pickle-limit", type=int, default=240)
    parser.add_argument("--keep-constants", action="store_true",
                        help="package the weights in the .so (aot_inductor.package_constants_in_so=True)")
    parser.add_argument("--skip-part1", action="store_true")
    parser.add_argument("--skip-part2", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--role", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    def config(layers: int):
        if args.small:
            return llama_model.LlamaConfig(hidden=64, layers=layers, heads=4, intermediate=160, vocab=256, max_seq=128)
        return llama_model.LlamaConfig(layers=layers)

    if args.role:
        e2e_role(args, config(args.e2e_layers[0]))
        return
    lines = []

    def log(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    log(f"graphcache llama key bench  torch {torch.__version__}  python {sys.version.split()[0]}  device {gpu}")
    def save() -> None:  # after each part and size, so a run cut short keeps what finished
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                f.write("\n".join(lines) + "\n")

    if not args.skip_part1:
        part1(config(args.layers), args.device, args.pickle_limit, log)
        save()
    if not args.skip_part2:
        for layers in args.e2e_layers:
            part2(args, layers, log)
            save()

if __name__ == "__main__":
    main()
