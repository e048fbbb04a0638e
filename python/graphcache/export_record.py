"""The code record of an export: which Python source files ran while torch.export traced a module.

An exported program is what the module's Python code did with fake tensors, so a cached program stays
valid only while that code is unchanged. During tracing every code object that starts executing is noted
(sys.monitoring PY_START on Python >= 3.12, sys.setprofile before), at most once each. Afterwards they are
sorted into:
  * torch itself, the standard library and torch's own pure-Python dependencies (sympy, ...): identified
    by the torch / Python / package versions in the record, not by file;
  * every other file (the model's code, transformers, ...): path + SHA-256 of the file's content;
  * code without a file (dataclass-generated __init__, exec'd strings): identified by the file of the module
    whose globals it runs in (the code that generated it); with no such file the export is not cacheable.
On a hit every recorded file is hashed again: any edit (or a missing file) is a miss.

What this cannot see: C extensions and compiled (.so) code, files changed under torch / the standard
library / the versioned dependencies without a version change, code run by other threads, and state read
from the environment (os.environ, files) - see python/README.md, "Export cache".
"""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
import types
from dataclasses import dataclass, field
from typing import Dict, Optional

# torch's pure-Python run-time dependencies that run *inside* torch's tracing machinery (symbolic shapes,
# pytrees): identified by their installed version, so that a warm start need not hash hundreds of files.
VERSIONED_PACKAGES = ("sympy", "mpmath", "networkx", "typing_extensions", "filelock", "fsspec", "jinja2",
                      "markupsafe", "optree")


class NotRecordable(Exception):
    """Tracing ran code the record cannot identify: the export is returned but not cached."""


@dataclass
class CodeRecord:
    files: Dict[str, str] = field(default_factory=dict)  # absolute path -> SHA-256 hex of the content
    versions: Dict[str, str] = field(default_factory=dict)  # python / torch / versioned packages

    def to_json(self) -> dict:
        return {"files": dict(sorted(self.files.items())), "versions": dict(sorted(self.versions.items()))}

    @staticmethod
    def from_json(data: dict) -> "CodeRecord":
        files, versions = data["files"], data["versions"]
        if not all(isinstance(k, str) and isinstance(v, str) for d in (files, versions) for k, v in d.items()):
            raise ValueError("malformed code record")
        return CodeRecord(files=dict(files), versions=dict(versions))

    def first_change(self) -> Optional[str]:
        """None when everything recorded is unchanged, else why not (the first difference found)."""
        current = environment_versions(self.versions)
        for name, version in self.versions.items():
            if current.get(name) != version:
                return f"{name} version {version} -> {current.get(name)}"
        for path, digest in self.files.items():
            now = file_digest(path)
            if now != digest:
                return f"source file {path} " + ("is gone" if now is None else "changed")
        return None


def file_digest(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _package_version(name: str) -> Optional[str]:
    module = sys.modules.get(name)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        from importlib.metadata import version as dist_version

        return dist_version(name)
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return None


def environment_versions(wanted: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """python, torch and the versioned packages (only those in `wanted` when given)."""
    import torch

    out = {"python": sys.version, "torch": torch.__version__}
    for name in VERSIONED_PACKAGES:
        key = "package:" + name
        if wanted is not None and key not in wanted:
            continue
        version = _package_version(name)
        if version is not None:
            out[key] = version
    return out


class _Classifier:
    """Sorts source paths into versioned (torch, stdlib, VERSIONED_PACKAGES) and hashed files."""

    def __init__(self) -> None:
        import torch

        self.torch_dir = os.path.dirname(os.path.realpath(torch.__file__)) + os.sep
        paths = sysconfig.get_paths()
        self.stdlib_dirs = tuple({os.path.realpath(paths[k]) + os.sep for k in ("stdlib", "platstdlib")})
        self.package_dirs = tuple(sorted({os.path.realpath(p) + os.sep for p in sys.path if p and os.path.isdir(p)},
                                         key=len, reverse=True))
        self.own_file = os.path.realpath(__file__)

    def versioned_package(self, path: str) -> Optional[str]:
        """The package name when `path` is versioned instead of hashed; "" for torch / stdlib / self."""
        if path.startswith(self.torch_dir) or path == self.own_file:
            return ""
        for base in self.package_dirs:
            if path.startswith(base):
                top = path[len(base):].split(os.sep, 1)[0]
                top = top[:-3] if top.endswith(".py") else top
                if top in VERSIONED_PACKAGES:
                    return top
                if not any(d.startswith(base) for d in self.stdlib_dirs):
                    return None  # a site-packages / project directory: hashed
                break
        if path.startswith(self.stdlib_dirs) and "-packages" + os.sep not in path:
            return ""
        return None


def _generator_file(frame) -> Optional[str]:
    """For code without a source file: the file of the module whose globals it runs in (dataclass methods),
    else of the nearest caller with a file (the code that exec'd / eval'd it, e.g. sympy's parser)."""
    generator = frame.f_globals.get("__file__")
    while not generator and frame.f_back is not None:
        frame = frame.f_back
        if not frame.f_code.co_filename.startswith("<"):
            generator = frame.f_code.co_filename
    return generator


class CodeRecorder:
    """Context manager noting every code object that starts while it is active (this thread)."""

    def __init__(self) -> None:
        self.codes: Dict[int, types.CodeType] = {}
        self.generated_in: Dict[int, Optional[str]] = {}  # fileless code -> __file__ of its globals
        self._tool: Optional[int] = None
        self._previous_profile = None

    # -- Python >= 3.12 ------------------------------------------------------------------------------
    def _on_start(self, code: types.CodeType, _offset: int):
        self.codes[id(code)] = code
        if code.co_filename.startswith("<"):
            self.generated_in[id(code)] = _generator_file(sys._getframe(1))
        return sys.monitoring.DISABLE  # once per code object is enough

    # -- Python 3.11 -----------------------------------------------------------------------------------
    def _on_profile(self, frame, event, _arg):
        if event == "call":
            code = frame.f_code
            if id(code) not in self.codes:
                self.codes[id(code)] = code
                if code.co_filename.startswith("<"):
                    self.generated_in[id(code)] = _generator_file(frame)

    def __enter__(self) -> "CodeRecorder":
        monitoring = getattr(sys, "monitoring", None)
        if monitoring is not None:
            for tool in (monitoring.PROFILER_ID, 3, 4, monitoring.OPTIMIZER_ID):
                if monitoring.get_tool(tool) is None:
                    self._tool = tool
                    break
            if self._tool is None:
                raise NotRecordable("every sys.monitoring tool id is taken")
            monitoring.use_tool_id(self._tool, "graphcache.export")
            monitoring.register_callback(self._tool, monitoring.events.PY_START, self._on_start)
            monitoring.restart_events()  # code DISABLEd by an earlier recording must be seen again
            monitoring.set_events(self._tool, monitoring.events.PY_START)
        else:
            self._previous_profile = sys.getprofile()
            if self._previous_profile is not None:
                raise NotRecordable("a profiler (sys.setprofile) is active")
            sys.setprofile(self._on_profile)
        return self

    def __exit__(self, *exc) -> None:
        if self._tool is not None:
            monitoring = sys.monitoring
            monitoring.set_events(self._tool, 0)
            monitoring.register_callback(self._tool, monitoring.events.PY_START, None)
            monitoring.free_tool_id(self._tool)
            self._tool = None
        else:
            sys.setprofile(self._previous_profile)

    def record(self) -> CodeRecord:
        """The CodeRecord of what ran; raises NotRecordable for code it cannot identify."""
        classify = _Classifier()
        files: Dict[str, str] = {}
        packages = set()
        seen_paths: Dict[str, Optional[str]] = {}
        for key, code in self.codes.items():
            path = code.co_filename
            if path.startswith("<"):
                if path.startswith("<frozen "):
                    continue  # frozen standard-library modules: the Python version identifies them
                if path.startswith("<eval_with_key>"):
                    # torch.fx's generated code: a graph that tracing built (torch's work), or the forward of
                    # a GraphModule in the module tree (its code is part of the module state)
                    continue
                generator = self.generated_in.get(key)
                if not generator:
                    raise NotRecordable(f"code {code.co_qualname!r} from {path} ran during tracing and has no source "
                                        "file to identify it by")
                path = generator
            path = os.path.realpath(path)
            if path in seen_paths:
                continue
            package = classify.versioned_package(path)
            seen_paths[path] = package
            if package == "":
                continue
            if package is not None:
                packages.add("package:" + package)
                continue
            digest = file_digest(path)
            if digest is None:
                raise NotRecordable(f"code {code.co_qualname!r} ran from {path}, which cannot be read")
            files[path] = digest
        versions = environment_versions({name: "" for name in packages})
        return CodeRecord(files=files, versions=versions)

