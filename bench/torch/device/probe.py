"""What the GPU machine's toolchain does with AOTInductor: which C++ compiler Inductor picks, whether a
CUDA package compiled with it loads (in a child process, so a segfault is reported, not fatal), and
where a load's time goes (Inductor's CPU vector-ISA probe). Prints one line per finding."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import os, sys, time, torch, faulthandler
faulthandler.enable()
path = sys.argv[1]
t = time.perf_counter()
if os.environ.get("PROBE_MODE") == "isa":
    from torch._inductor.codecache import get_device_information
    get_device_information("cuda")
    print(f"get_device_information(cuda): {time.perf_counter() - t:.2f} s")
    sys.exit(0)
m = torch._inductor.aoti_load_package(path)
load = time.perf_counter() - t
x = torch.randn(8, 64, device="cuda")
lin = torch.load(path + ".ref")
ref = torch.relu(x @ lin["w"].T + lin["b"])
print(f"load {load:.2f} s, max err {(m(x) - ref).abs().max().item():.3g}")
"""


def main() -> None:
    import torch
    import torch._inductor.config as cfg
    from torch._inductor.cpp_builder import get_cpp_compiler

    print(f"torch {torch.__version__} cuda {torch.version.cuda} python {sys.version.split()[0]}")
    print(f"env CXX={os.environ.get('CXX')!r} CC={os.environ.get('CC')!r}; config.cpp.cxx={cfg.cpp.cxx}")
    for c in ("g++", "c++", "clang++", "g++-12", "g++-13", "g++-14"):
        p = shutil.which(c)
        if p:
            v = subprocess.run([p, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
            print(f"  {c}: {os.path.realpath(p)}: {v}")
    print(f"inductor picks: {get_cpp_compiler()}")
    child = os.path.join(tempfile.mkdtemp(), "child.py")
    with open(child, "w") as f:
        f.write(CHILD)
    lin = torch.nn.Linear(64, 32).cuda()
    model = torch.nn.Sequential(lin, torch.nn.ReLU())
    ep = torch.export.export(model, (torch.randn(8, 64, device="cuda"),))
    for label, cxx in (("default", None), ("CXX=g++", "g++")):
        env = dict(os.environ)
        if cxx:
            env["CXX"] = cxx
        else:
            env.pop("CXX", None)
        out = tempfile.mkdtemp()
        pkg = os.path.join(out, "m.pt2")
        script = (f"import torch,sys; ep=torch.export.load({os.path.join(out, 'ep.pt2')!r}); "
                  f"torch._inductor.aoti_compile_and_package(ep, package_path={pkg!r})")
        torch.export.save(ep, os.path.join(out, "ep.pt2"))
        torch.save({"w": lin.weight.detach(), "b": lin.bias.detach()}, pkg + ".ref")
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
        print(f"[{label}] compile rc={r.returncode} {time.perf_counter() - t:.1f} s {r.stderr[-300:] if r.returncode else ''}")
        if r.returncode:
            continue
        for mode in ("isa", "load"):
            t = time.perf_counter()
            r = subprocess.run([sys.executable, child, pkg], env={**env, "PROBE_MODE": mode}, capture_output=True, text=True)
            print(f"[{label}] {mode}: rc={r.returncode} wall {time.perf_counter() - t:.1f} s: "
                  f"{r.stdout.strip()} {r.stderr[-600:] if r.returncode else ''}")


if __name__ == "__main__":
    main()
