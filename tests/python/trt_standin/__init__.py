"""Importing the real torch_tensorrt 2.13.0 on a CPU-only machine, for tests.

What is stood in (and nothing else; every torch_tensorrt module is the installed package's code):
  * the `tensorrt` package: tests/python/trt_standin/tensorrt (version 11.0.0, the enums and interface
    type names torch_tensorrt reads at import, IHostMemory). TensorRT cannot be installed here.
  * while torch_tensorrt is imported: torch.cuda.get_device_capability -> (9, 0) and
    torch.cuda.current_device -> 0 (torch_tensorrt queries the GPU at import and CompilationSettings()
    defaults to the current CUDA device; the CPU torch build raises), torch._C._CudaDeviceProperties (an
    annotation torch_tensorrt evaluates; absent from CPU builds), and os.path.isfile reports
    torch_tensorrt/lib/*.so as absent, so torch_tensorrt takes its no-C++-runtime path instead of loading
    libraries linked against CUDA and TensorRT.
  * current_device stays patched for the session (CompilationSettings() calls it at construction).
  * `Interpreter`: stands in for TRTInterpreter (which builds with TensorRT): it returns a
    TRTInterpreterResult whose engine serializes to an IHostMemory derived from the subgraph.
  * `Runtime` (installed by the test that needs it as tensorrt.Runtime): deserializes a cached engine on
    pull_cached_engine's refit path; that test also replaces _refit._refit_single_trt_engine_with_gm
    (a TensorRT Refitter) with a recorder.
"""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Any, List
from unittest import mock

_HERE = os.path.dirname(os.path.abspath(__file__))
_session_patch = None


def import_torch_tensorrt():
    """Returns the torch_tensorrt module (imported with the stand-ins above), or raises ImportError."""
    global _session_patch
    if "torch_tensorrt.dynamo.conversion._conversion" in sys.modules:
        return sys.modules["torch_tensorrt"]
    import importlib.util

    if importlib.util.find_spec("torch_tensorrt") is None:
        raise ImportError("torch_tensorrt is not installed")
    import torch

    if torch.cuda.is_available():
        raise ImportError("a CUDA build: use the real tensorrt package instead of the stand-in")
    if _HERE not in sys.path:
        sys.path.insert(0, _HERE)
    real_isfile = os.path.isfile

    def isfile(path: Any) -> bool:
        p = os.fspath(path)
        if "torch_tensorrt" in p and f"{os.sep}lib{os.sep}" in p and p.endswith((".so", ".dll")):
            return False
        return real_isfile(p)

    cuda_props = type("_CudaDeviceProperties", (), {})
    _session_patch = mock.patch("torch.cuda.current_device", lambda: 0)
    _session_patch.start()
    with mock.patch("torch.cuda.get_device_capability", lambda *a, **k: (9, 0)), mock.patch(
        "os.path.isfile", isfile
    ), mock.patch.object(torch._C, "_CudaDeviceProperties", cuda_props, create=True):
        import torch_tensorrt  # noqa: F401
        from torch_tensorrt.dynamo.conversion import _conversion  # noqa: F401
    return torch_tensorrt


class FakeEngine:
    """What TRTInterpreter's result holds (trt.ICudaEngine): serializes to IHostMemory."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.serialized_with: List[Any] = []

    def create_serialization_config(self) -> "FakeEngine._Config":
        return FakeEngine._Config()

    def serialize_with_config(self, config: "FakeEngine._Config") -> Any:
        import tensorrt

        self.serialized_with.append(sorted(config.flags))
        return tensorrt.IHostMemory.of(self.payload)

    def serialize(self) -> Any:
        import tensorrt

        return tensorrt.IHostMemory.of(self.payload)

    class _Config:
        def __init__(self) -> None:
            self.flags: set = set()

        def set_flag(self, flag: Any) -> None:
            self.flags.add(flag.name)

        def clear_flag(self, flag: Any) -> None:
            self.flags.discard(flag.name)


class Interpreter:
    """Stand-in for torch_tensorrt.dynamo.conversion._TRTInterpreter.TRTInterpreter. `built` counts
    builds (class-wide) so tests can tell a cache hit from a build; engine bytes are derived from the
    subgraph's code and input shapes, padded to `engine_size`."""

    built: List[str] = []
    engine_size = 1 << 16

    def __init__(self, module: Any, inputs: Any, output_dtypes: Any = None, compilation_settings: Any = None,
                 engine_cache: Any = None, **kwargs: Any) -> None:
        self.module = module
        self.inputs = inputs

    def run(self) -> Any:
        from torch_tensorrt.dynamo.conversion._TRTInterpreter import TRTInterpreterResult

        shapes = [str(getattr(i, "shape", i)) for i in self.inputs]
        digest = hashlib.sha256((self.module.code + "|".join(shapes)).encode()).digest()
        Interpreter.built.append(digest.hex())
        payload = (b"ENGINE" + digest) * (self.engine_size // 38 + 1)
        names_in = [n.name for n in self.module.graph.nodes if n.op == "placeholder"]
        return TRTInterpreterResult(FakeEngine(payload[: self.engine_size]), names_in, ["output0"], False, False)


class Runtime:
    """Stand-in for tensorrt.Runtime on the refit path of pull_cached_engine (strip_engine_weights=False):
    deserialize_cuda_engine records what the cache returned and gives back a FakeEngine over it."""

    deserialized: List[bytes] = []

    def __init__(self, logger: Any = None) -> None:
        pass

    def deserialize_cuda_engine(self, serialized: Any) -> FakeEngine:
        data = bytes(memoryview(serialized))
        Runtime.deserialized.append(data)
        return FakeEngine(data)
