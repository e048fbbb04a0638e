"""Prints the key of ~100 graphs, one line each, so that two builds can be compared byte for byte.

A speed change in the walker must not change any key: run this with the build before and the build after
and diff the outputs. Graphs: the differential oracle's models (symbolic_trace, torch.export, static and
dynamic, ExportedProgram.module()), a tiny Llama, and, where transformers is installed, HF BERT / Llama
exports built on the meta device.

    .venv/bin/python bench/python_key/key_dump.py > after.txt   # and the same with the other build
"""

from __future__ import annotations

import os
import sys
import warnings

import torch

import graphcache

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "torch"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "python"))
import llama_model  # noqa: E402
import oracle_models  # noqa: E402


def emit(name, make_key) -> None:
    try:
        info = make_key()
        print(name, info.key, len(info.weight_names), info.weight_names[:3], info.input_names, info.output_names)
    except Exception as e:  # noqa: BLE001 - a refusal is part of what is compared
        print(name, "ERROR", type(e).__name__, str(e)[:200])


def main() -> None:
    warnings.filterwarnings("ignore")
    try:
        import hf_key_time

        for name, build, layers in (("bert3", hf_key_time.bert, 3), ("llama4", hf_key_time.llama, 4)):
            ep = build(layers)
            emit(name, lambda: graphcache.key(ep))
            emit(name + ".module", lambda: graphcache.key(ep.module()))
    except ImportError:
        print("transformers not installed: HF exports skipped")
    for i, (_, make, inputs_of) in enumerate(oracle_models.variants(seeds=(0,))):
        model, inputs = make().eval(), inputs_of()
        emit(f"oracle{i}.fx", lambda: graphcache.key(torch.fx.symbolic_trace(model), inputs))
        try:
            ep = torch.export.export(model, inputs)
        except Exception as e:  # noqa: BLE001
            print(f"oracle{i}", "EXPORT-ERROR", type(e).__name__)
            continue
        emit(f"oracle{i}.ep", lambda: graphcache.key(ep))
        emit(f"oracle{i}.epm", lambda: graphcache.key(ep.module(), inputs))
        if i < 6:
            batch = torch.export.Dim("b", min=2, max=64)
            dyn = torch.export.export(model, inputs, dynamic_shapes=tuple({0: batch} for _ in inputs))
            emit(f"oracle{i}.dyn", lambda: graphcache.key(dyn))
    cfg = llama_model.LlamaConfig(hidden=64, layers=2, heads=2, intermediate=128, vocab=100, max_seq=64)
    ep = torch.export.export(llama_model.build(cfg, dtype=torch.float32), (torch.randint(0, 100, (1, 8)),))
    emit("tinyllama.ep", lambda: graphcache.key(ep))
    emit("tinyllama.epm", lambda: graphcache.key(ep.module()))


if __name__ == "__main__":
    main()
