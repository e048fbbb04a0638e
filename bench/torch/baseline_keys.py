"""The keys graphcache is measured against (DESIGN.md), shared by the benchmarks."""

from __future__ import annotations

import hashlib

import torch


def op_target_hash(gm: torch.fx.GraphModule) -> str:
    """Torch-TensorRT's op_target key: placeholders by position, other nodes as '<op>_<target>'."""
    words, inputs = [], 0
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            words.append(f"placeholder_input_{inputs}")
            inputs += 1
        else:
            words.append(f"{node.op}_{node.target}")
    return hashlib.sha256(" ".join(words).encode()).hexdigest()
