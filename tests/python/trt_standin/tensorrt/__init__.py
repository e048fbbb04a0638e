"""TEST-ONLY stand-in for the `tensorrt` Python package (see tests/python/trt_standin/__init__.py).

It has TensorRT's version, the enums and interface type names torch_tensorrt 2.13.0 touches when it is
imported, and IHostMemory (the buffer-protocol object engines serialize to). It builds nothing and runs
nothing; the test's interpreter stand-in makes the "engines"."""
import enum as _enum
import sys as _sys

import numpy as _np

__version__ = "11.0.0"

# Interface types torch_tensorrt names in annotations / isinstance checks at import time. Empty classes:
# no TensorRT functionality is provided.
_CLASSES = ['ITensor', 'INetworkDefinition', 'ILayer', 'PluginFieldCollection', 'IPluginV3', 'ElementWiseOperation', 'Weights', 'ActivationType', 'IAttention', 'UnaryOperation', 'TopKOperation', 'IProgressMonitor', 'ICudaEngine', 'IBuilderConfig', 'IOutputAllocator']

# Enums torch_tensorrt reads members of at import time (member values are arbitrary).
_ENUMS = {'DataType': ['FLOAT', 'HALF', 'BF16', 'INT8', 'INT32', 'INT64', 'BOOL', 'UINT8', 'FP8', 'INT4', 'FP4'], 'InterpolationMode': ['LINEAR', 'NEAREST', 'CUBIC'], 'SampleMode': ['FILL', 'CLAMP', 'REFLECT'], 'MatrixOperation': ['NONE'],
          'SerializationFlag': ['EXCLUDE_WEIGHTS', 'EXCLUDE_LEAN_RUNTIME', 'INCLUDE_REFIT'],
          'DeviceType': ['GPU', 'DLA'], 'EngineCapability': ['STANDARD', 'SAFETY', 'DLA_STANDALONE'],
          'TensorFormat': ['LINEAR', 'CHW2', 'HWC8', 'CHW4', 'CHW16', 'CHW32', 'DHWC8', 'CDHW32', 'HWC',
                           'DLA_LINEAR', 'DLA_HWC4', 'HWC16', 'DHWC']}

for _name in _CLASSES:
    globals()[_name] = type(_name, (), {"__module__": __name__})
for _name, _members in _ENUMS.items():
    globals()[_name] = _enum.IntEnum(_name, _members, module=__name__)

# tensorrt.float16 etc. are aliases of DataType members; tensorrt.tensorrt is the binding module, whose
# names the package re-exports.
for _alias, _member in {"float32": "FLOAT", "float16": "HALF", "bfloat16": "BF16", "int8": "INT8",
                        "int32": "INT32", "int64": "INT64", "bool": "BOOL", "uint8": "UINT8",
                        "fp8": "FP8", "int4": "INT4", "fp4": "FP4"}.items():
    globals()[_alias] = DataType[_member]
tensorrt = _sys.modules[__name__]


class ILogger:
    class Severity(_enum.IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    def __init__(self) -> None:
        pass


class Logger(ILogger):
    def __init__(self, min_severity=ILogger.Severity.WARNING) -> None:
        self.min_severity = min_severity


def init_libnvinfer_plugins(logger, namespace) -> bool:  # no plugins in the stand-in
    return True


class IHostMemory(_np.ndarray):
    """Like TensorRT's IHostMemory: a buffer-protocol object (not bytes) with nbytes."""

    @staticmethod
    def of(data: bytes) -> "IHostMemory":
        return _np.frombuffer(data, dtype=_np.uint8).view(IHostMemory)
