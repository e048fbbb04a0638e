"""The C++ compiler AOTInductor builds with, and loading a package without per-process probes.

Why this exists (measured on the GPU machine, torch 2.11+cu130, bench/torch/results/):
- Compiler. That image sets CXX to a wrapper around its own gcc build; packages linked by it segfault at
  load (in std::regex under torch::aot_inductor::parse_device_str), while the same package linked by the
  distribution's g++ loads. So graphcache compiles with the `g++` on PATH (or GRAPHCACHE_AOTI_CXX), records
  that compiler in the key, and checks every new package loads in a child process before storing it: a
  package that would crash is never served, and the user's process gets an error instead of a segfault.
- Load time. torch._inductor.aoti_load_package computes this machine's "device information" only to log a
  mismatch warning, and that runs Inductor's CPU vector-ISA probe: ~10 child Pythons importing torch,
  38-43 s there. graphcache's key already pins the toolchain (torch, GPU, CPU flags, compiler), so it
  constructs the package loader directly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from typing import Any, Dict, Iterator


class AotiToolchainError(RuntimeError):
    """No usable C++ compiler, or a freshly compiled package that does not load."""


@functools.lru_cache(maxsize=None)
def cpp_compiler() -> str:
    """The compiler AOTInductor packages are built with: $GRAPHCACHE_AOTI_CXX, else `g++` on PATH."""
    chosen = os.environ.get("GRAPHCACHE_AOTI_CXX") or shutil.which("g++")
    if not chosen:
        raise AotiToolchainError(
            "graphcache.aoti: no C++ compiler: install g++ (12 or 13) or set GRAPHCACHE_AOTI_CXX to one")
    return chosen


@functools.lru_cache(maxsize=None)
def compiler_identity(compiler: str) -> str:
    """Resolved path and version line: part of the key, since the package is this compiler's output."""
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise AotiToolchainError(f"graphcache.aoti: C++ compiler {compiler!r} does not run: {e}") from e
    first = (version.stdout.splitlines() or [""])[0].strip()
    return f"{os.path.realpath(shutil.which(compiler) or compiler)} {first}"


def toolchain() -> Dict[str, str]:
    return {"cxx": compiler_identity(cpp_compiler())}


@contextlib.contextmanager
def compiling_with_chosen_compiler() -> Iterator[str]:
    """Inductor's compiler choice (config.cpp.cxx) set to cpp_compiler() for the duration."""
    import torch._inductor.config as inductor_config

    compiler = cpp_compiler()
    with inductor_config.patch({"cpp.cxx": (None, compiler)}):
        yield compiler


def load_package(package_path: str, device_index: int = -1) -> Any:
    """AOTICompiledModel over AOTIModelPackageLoader, without aoti_load_package's device-information check."""
    import torch
    from torch._inductor.package import AOTICompiledModel

    loader = torch._C._aoti.AOTIModelPackageLoader(os.fspath(package_path), "model", False, 1, device_index)
    return AOTICompiledModel(loader)


_LOAD_CHECK = (  # what load_package does, in a process of its own
    "import sys, torch\n"
    "from torch._inductor.package import AOTICompiledModel\n"
    "AOTICompiledModel(torch._C._aoti.AOTIModelPackageLoader(sys.argv[1], 'model', False, 1, -1))\n"
)


def check_loads(package_path: str, timeout_s: float = 300.0) -> None:
    """Loads the package in a child process; raises AotiToolchainError if that crashes or fails."""
    try:
        proc = subprocess.run([sys.executable, "-c", _LOAD_CHECK, os.fspath(package_path)], capture_output=True,
                              text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise AotiToolchainError(f"graphcache.aoti: loading the new package took over {timeout_s:.0f} s") from e
    if proc.returncode != 0:
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        raise AotiToolchainError(
            f"graphcache.aoti: the package compiled with {cpp_compiler()!r} does not load ({how}); it was not "
            f"stored. Set GRAPHCACHE_AOTI_CXX to another g++ (12 or 13 are known to work). "
            f"Loader output: {proc.stderr.strip()[-800:]}")
