"""Warm start without re-tracing: graphcache.export (the export cache) vs torch.export, HF Llama at 7b dims.

Side by side in one run:
  torch.export.export of transformers' LlamaForCausalLM (Llama-2-7b dimensions) - what every process start
  pays without the export cache;
  graphcache.export on a miss (export + code record + store) and on a hit (state + lookup + check + bind +
  graph rebuild + ExportedProgram, on a freshly built model object, as a new process would have), with the
  hit's breakdown and the ratio - target: hit <= 5% of export;
  with --e2e (a real device), the whole start through graphcache.aoti.get_or_compile(cache, module, ...):
  cold (weights load, export, key, compile, store, load, refit) next to warm (weights load, export-cache
  hit, key, engine fetch, load, refit, first run).

  python bench/torch/export_cache_bench.py                      # cuda when present (fp16), else meta
  python bench/torch/export_cache_bench.py --device meta        # meta device: no weights, no engine
  python bench/torch/export_cache_bench.py --device cuda --e2e  # real fp16 weights (see device/run.sh)
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

import torch

import graphcache
from graphcache import aoti, blob_codec
from graphcache.engine_cache import EngineCache
from graphcache.export_cache import export_cached


def llama_config(layers: int):
    from transformers import LlamaConfig

    return LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=layers, num_attention_heads=32,
                       num_key_value_heads=32, vocab_size=32000, max_position_embeddings=2048, use_cache=False)


def build(cfg, device: str, dtype: torch.dtype):
    from transformers import LlamaForCausalLM

    with torch.device(device):
        model = LlamaForCausalLM(cfg)
    return model.to(dtype).eval()


def assign(model, tensors) -> None:
    """Put loaded tensors into the model in place of its (meta) parameters and buffers, without copies."""
    for name, tensor in tensors.items():
        owner_name, _, leaf = name.rpartition(".")
        owner = model.get_submodule(owner_name)
        if leaf in owner._parameters:
            owner._parameters[leaf] = torch.nn.Parameter(tensor, requires_grad=owner._parameters[leaf].requires_grad)
        else:
            owner._buffers[leaf] = tensor


def fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def hit_in_this_process(args) -> None:
    """--hit-only CACHE: what a new process's warm start pays - build the model (weights uninitialized on
    the device: the hit binds them, their values do not matter), then one export-cache hit; prints its
    timings as JSON."""
    import json

    cfg = llama_config(args.layers)
    dtype = torch.float16 if args.device != "meta" else torch.float32
    model = build(cfg, "meta", dtype)
    if args.device != "meta":
        model = model.to_empty(device=args.device)
    x = torch.zeros((1, args.seq), dtype=torch.int64, device="cpu" if args.device == "meta" else args.device)
    gc.collect()
    result = export_cached(model, (x,), cache=args.hit_only)
    print(json.dumps({"hit": result.hit, "reason": result.reason, "timings": result.timings}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "meta")
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--e2e", action="store_true", help="also the AOTInductor start through get_or_compile")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=None)
    p.add_argument("--hit-only", default=None, help=argparse.SUPPRESS)  # the new-process hit (internal)
    args = p.parse_args()
    if args.hit_only:
        hit_in_this_process(args)
        return
    lines = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    import transformers

    dtype = torch.float16 if args.device != "meta" else torch.float32
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.machine()
    say(f"graphcache export cache bench  torch {torch.__version__}  transformers {transformers.__version__}  "
        f"python {platform.python_version()}  device {args.device} ({device_name})")
    cfg = llama_config(args.layers)
    workdir = tempfile.mkdtemp(prefix="graphcache-export-bench-")
    weights_path = os.path.join(workdir, "weights.safetensors")
    try:
        # Imports and one-time initialisation both paths share (a tiny export), outside the timings.
        tiny = torch.nn.Linear(2, 2)
        torch.export.export(tiny, (torch.randn(1, 2),))
        export_cached(tiny, (torch.randn(1, 2),), cache=os.path.join(workdir, "tiny"))
        export_cached(tiny, (torch.randn(1, 2),), cache=os.path.join(workdir, "tiny"))

        start = time.perf_counter()
        model = build(cfg, args.device, dtype)
        build_s = time.perf_counter() - start
        n_params = sum(t.numel() for t in model.parameters())
        say(f"model: HF LlamaForCausalLM, {args.layers} layers at Llama-2-7b dims, {n_params / 1e9:.2f} B params, "
            f"{dtype}, built in {build_s:.1f} s")
        x = torch.randint(0, cfg.vocab_size, (1, args.seq), device="cpu" if args.device == "meta" else args.device)

        def weights_load():
            """A new model object as a new process makes it: built on meta, weights loaded from disk."""
            fresh = build(cfg, "meta", dtype)
            if args.device == "meta":
                return fresh, None
            from safetensors.torch import load_file

            start = time.perf_counter()
            assign(fresh, load_file(weights_path, device=args.device))
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            return fresh, time.perf_counter() - start

        if args.device != "meta":
            from safetensors.torch import save_file

            tensors = {n: t.contiguous() for n, t in model.state_dict(keep_vars=False).items()}
            tensors.update({n: t for n, t in model.named_buffers()})
            save_file(tensors, weights_path)
            del tensors

        gc.collect()  # before each timed step: no step pays for the garbage the one before left
        start = time.perf_counter()
        ep = torch.export.export(model, (x,))
        export_s = time.perf_counter() - start
        say(f"torch.export.export(strict=False): {export_s:.3f} s, {len(ep.graph.nodes)} nodes")
        try:
            ref_key = graphcache.key(ep).key
        except graphcache.Error as e:  # e.g. a transformers whose masks trace to ops the key refuses
            ref_key = None
            say(f"graphcache.key refuses torch.export's program: {e}")
        del ep

        cache_dir = os.path.join(workdir, "cache")
        cache = EngineCache(cache_dir)
        fresh, _ = weights_load()
        miss = export_cached(fresh, (x,), cache=cache)
        say(f"graphcache.export miss (export + record + store): {sum(miss.timings.values()):.3f} s  "
            f"(store {miss.timings.get('store', 0):.3f} s)  stored={miss.stored} {miss.reason}")
        header = blob_codec.decode(cache.store.get(miss.key)[0])[0]
        say(f"  entry: {header['graph']['form']}  {header['graph']['note']}".rstrip())
        hits = []
        for _ in range(args.repeat):
            fresh, _ = weights_load()
            hit = None
            gc.collect()
            hit = export_cached(fresh, (x,), cache=cache)
            assert hit.hit, hit.reason
            hits.append(hit.timings)
        med = statistics.median(sum(h.values()) for h in hits)
        parts = {k: statistics.median(h[k] for h in hits) for k in hits[0]}
        same_key = ref_key is not None and graphcache.key(hit.program).key == ref_key
        bound = all(hit.program.state_dict[n] is t for n, t in fresh.named_parameters())
        del hit
        say(f"graphcache.export hit (median of {args.repeat}): {med:.4f} s = {100 * med / export_s:.2f}% of "
            f"torch.export (target <= 5%)")
        say(f"  {'hit stage (s, median)':<24}{'time':>9}{'% of export':>13}")
        for k, v in parts.items():
            say(f"  {k:<24}{v:>9.4f}{100 * v / export_s:>12.2f}%")
        say(f"  {'total':<24}{med:>9.4f}{100 * med / export_s:>12.2f}%   vs torch.export {export_s:.3f} s")
        say(f"  key of the cached program == key of torch.export's: {same_key}; parameters bound without copy: "
            f"{bound}")

        import json
        import subprocess

        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--hit-only", cache_dir, "--device",
                               args.device, "--layers", str(args.layers), "--seq", str(args.seq)],
                              capture_output=True, text=True)
        if done.returncode == 0:
            other = json.loads(done.stdout.strip().splitlines()[-1])
            total = sum(other["timings"].values())
            say(f"graphcache.export hit in a new process (first call there): {total:.4f} s = "
                f"{100 * total / export_s:.2f}% of torch.export  hit={other['hit']} {other['reason']}".rstrip())
            say("  " + "  ".join(f"{k} {v:.4f}" for k, v in other["timings"].items()))
        else:
            say(f"hit in a new process failed: {done.stderr[-500:]}")

        del model
        if args.e2e and ref_key is None:
            say("end to end skipped: the program cannot be keyed (above)")
        elif args.e2e:
            say("")
            say("end to end through graphcache.aoti.get_or_compile(cache, module, example_inputs)")
            engine_cache = EngineCache(os.path.join(workdir, "engines"))
            runs = {}
            for label in ("cold", "warm"):
                fresh, load_s = weights_load()
                start = time.perf_counter()
                result = aoti.get_or_compile(engine_cache, fresh, (x,))
                out = result.runner(x)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                total = time.perf_counter() - start
                timings = dict(result.timings)
                timings["first_run"] = total - sum(timings.values())
                timings["weights_load"] = load_s
                runs[label] = (timings, total + (load_s or 0), result.cache.hit)
                if label == "warm":
                    ref = fresh(x).logits
                    got = out[0] if isinstance(out, (list, tuple)) else getattr(out, "logits", out)
                    err = (got.float() - ref.float()).abs().max().item()
                del fresh
            stages = ["weights_load", "export", "export_hit", "key", "compile", "store", "fetch", "load", "refit",
                      "first_run"]
            say(f"  {'stage (s)':<14}{'cold':>12}{'warm':>12}")
            for stage in stages:
                say(f"  {stage:<14}{fmt(runs['cold'][0].get(stage)):>12}{fmt(runs['warm'][0].get(stage)):>12}")
            cold_total, warm_total = runs["cold"][1], runs["warm"][1]
            ratio = 100 * warm_total / cold_total
            say(f"  {'total':<14}{cold_total:>12.3f}{warm_total:>12.3f}   warm / cold = {ratio:.2f}%")
            say(f"  warm hit={runs['warm'][2]}  max|err| vs eager {err:.4g}")
        say("")
        say("command: " + " ".join([os.path.basename(sys.executable)] + sys.argv))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
