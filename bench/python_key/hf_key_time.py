"""graphcache.key vs the op_target string hash on Hugging Face transformers exports, side by side.

Models are built from their config classes on the meta device (no weight memory, no download) and
torch.export'ed: LlamaForCausalLM at Llama-2-7b dimensions and BertModel at bert-base dimensions, each at
four layer counts to show that the cost grows linearly in nodes. For every graph the two keys are timed
interleaved (median of --repeat runs each) and the per-node cost is printed.

    .venv/bin/python -m pip install -r bench/requirements.txt   # transformers, pinned
    .venv/bin/python bench/python_key/hf_key_time.py [--repeat 21] [--llama-layers 4 8 16 32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

import graphcache

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
from baseline_keys import op_target_hash  # noqa: E402  (DESIGN.md's unsound key)


def llama(layers: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_attention_heads=32, num_key_value_heads=32,
                      num_hidden_layers=layers, vocab_size=32000, max_position_embeddings=4096)
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg).eval()
    ids = torch.zeros(1, 128, dtype=torch.long, device="meta")
    return torch.export.export(model, (ids,), kwargs={"use_cache": False}, strict=False)


def bert(layers: int):
    from transformers import BertConfig, BertModel

    cfg = BertConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=layers)
    with torch.device("meta"):
        model = BertModel(cfg).eval()
    ids = torch.zeros(1, 128, dtype=torch.long, device="meta")
    return torch.export.export(model, (ids,), strict=False)


def side_by_side(ep, repeat: int):
    graphcache.key(ep), op_target_hash(ep.graph_module)  # warm-up
    ours, base = [], []
    for i in range(repeat):  # interleaved, alternating which goes first
        for name in (("key", "op") if i % 2 == 0 else ("op", "key")):
            t = time.perf_counter()
            graphcache.key(ep) if name == "key" else op_target_hash(ep.graph_module)
            (ours if name == "key" else base).append(time.perf_counter() - t)
    return statistics.median(ours) * 1e3, statistics.median(base) * 1e3, min(ours) * 1e3, min(base) * 1e3


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=21)
    p.add_argument("--llama-layers", type=int, nargs="+", default=[4, 8, 16, 32])
    p.add_argument("--bert-layers", type=int, nargs="+", default=[3, 6, 12, 24])
    args = p.parse_args()
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, Python {sys.version.split()[0]}, "
          f"median of {args.repeat} (interleaved); min next to it")
    print(f"{'model':22s} {'nodes':>6s} {'key ms':>8s} {'op_target ms':>12s} {'ratio':>6s} "
          f"{'key us/node':>11s} {'op us/node':>10s} {'min ratio':>9s}")
    for family, build, sizes in (("llama-2-7b", llama, args.llama_layers), ("bert-base", bert, args.bert_layers)):
        for layers in sizes:
            ep = build(layers)
            nodes = len(ep.graph.nodes)
            key_ms, op_ms, key_min, op_min = side_by_side(ep, args.repeat)
            print(f"{family + ' x' + str(layers):22s} {nodes:6d} {key_ms:8.3f} {op_ms:12.3f} {key_ms / op_ms:5.2f}x "
                  f"{key_ms * 1e3 / nodes:11.2f} {op_ms * 1e3 / nodes:10.2f} {key_min / op_min:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
