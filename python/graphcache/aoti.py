"""AOTInductor through graphcache: compile a weight-stripped package once, reuse it for any weights.

The .pt2 package is compiled with `aot_inductor.package_constants_in_so=False`, so it holds code, not
weights. On a hit the package is loaded and the *current* model's weights are loaded into it as
constants (AOTICompiledModel.load_constants) through the entry's weight-slot map - the AOTInductor
analogue of a TensorRT refit. The refit mode is therefore "refittable" and the key ignores weight values.

What Inductor would bake into the code is not refittable: by default it inlines 0-d tensors and 1-D
tensors of up to 8 elements (GraphLowering.get_attr / can_inline_constant in torch/_inductor/graph.py),
so a small Linear bias or a PReLU(1) slope would keep its OLD value after a refit, and its joint-graph pass
folds any weight whose values are all equal (constant_fold_uniform_value in fx_passes/joint_graph.py).
Packages are therefore compiled with `always_keep_tensor_constants=True` and
`joint_graph_constant_folding=False` (every tensor attribute stays a loadable constant),
and small / integer non-parameter tensors are keyed by value anyway (graph_converter.hpp). A refit that
cannot load every weight slot of the key raises instead of running with stale values.

Inductor's whole global configuration (torch._inductor.config, as its own FX graph cache keys it) and the
explicit inductor_configs are settings of the key: a change to either compiles a new package.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional

from . import aoti_toolchain, weight_access
from .engine_cache import BuildOutput, CacheResult, EngineCache

# Inductor settings that make the package weight-stripped and every weight refittable (checked against
# torch/_inductor/config.py of torch 2.13).
WEIGHT_STRIPPED_CONFIGS = {
    "aot_inductor.package_constants_in_so": False,
    "aot_inductor.package_constants_on_disk_format": None,
    "always_keep_tensor_constants": True,
    # Inductor's joint-graph pass folds weights whose values happen to be uniform (PReLU's 0.25 slope, a
    # fresh LayerNorm's ones) into full(...) calls in the code: not refittable either.
    "joint_graph_constant_folding": False,
}


class RefitError(RuntimeError):
    """The cached package cannot take every weight of the current program (it would run stale values)."""


def _has_config(inductor_config: Any, name: str) -> bool:
    obj = inductor_config
    for part in name.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


@dataclass
class AotiResult:
    runner: Any  # torch._inductor.package.AOTICompiledModel: call it like the module
    cache: CacheResult
    timings: Dict[str, float] = field(default_factory=dict)  # s: warmup, key, compile|fetch, load, refit


def weight_stripped_configs() -> Dict[str, Any]:
    """WEIGHT_STRIPPED_CONFIGS limited to the knobs this torch has; package_constants_in_so is required."""
    import torch
    import torch._inductor.config as inductor_config

    for required in ("aot_inductor.package_constants_in_so", "always_keep_tensor_constants"):
        if not _has_config(inductor_config, required):
            raise NotImplementedError(
                f"graphcache: torch {torch.__version__} cannot build weight-stripped, fully refittable "
                f"AOTInductor packages (no inductor config {required})"
            )
    return {name: value for name, value in WEIGHT_STRIPPED_CONFIGS.items() if _has_config(inductor_config, name)}


def global_inductor_config_digest() -> str:
    """Digest of torch._inductor.config as Inductor's own FX graph cache keys it (save_config_portable:
    everything but the knobs Inductor marks as not affecting the output)."""
    import hashlib

    import torch._inductor.config as inductor_config

    portable = dict(inductor_config.save_config_portable())
    # aoti_compile_and_package writes the device it compiled for into this dict (torch 2.13): state it
    # leaves behind, not a knob; the device is keyed through device_identity.
    portable.pop("aot_inductor.metadata", None)
    return hashlib.sha256(repr(sorted(portable.items())).encode()).hexdigest()


def compile_weight_stripped(exported_program: Any, package_path: str, inductor_configs: Optional[Mapping] = None) -> str:
    """aoti_compile_and_package with the weights left out of the package; returns the .pt2 path."""
    import torch._inductor

    configs = {**weight_stripped_configs(), **dict(inductor_configs or {})}
    with aoti_toolchain.compiling_with_chosen_compiler():
        path = torch._inductor.aoti_compile_and_package(
            exported_program, package_path=package_path, inductor_configs=configs
        )
    aoti_toolchain.check_loads(path)  # a package that would crash the loader is never stored
    return path


def program_device(exported_program: Any) -> str:
    """The device the package is compiled for ("cpu", "cuda:0"...): that of the program's weights, else
    (a parameter-free program) of its constants or inputs; "cpu" only when nothing says otherwise."""
    import torch

    for tensor in list(exported_program.state_dict.values()) + list(getattr(exported_program, "constants", {}).values()):
        if isinstance(tensor, torch.Tensor):
            return str(tensor.device)
    for node in exported_program.graph.nodes:
        val = node.meta.get("val") if node.op == "placeholder" else None
        if isinstance(val, torch.Tensor):
            return str(val.device)
    return "cpu"


def aoti_settings(exported_program: Any, inductor_configs: Optional[Mapping] = None) -> Dict[str, str]:
    """Engine-relevant settings of an AOTInductor build: backend, target device, inductor configs."""
    settings = {
        "backend": "aoti",
        "device": program_device(exported_program).split(":")[0],
        "inductor.global_config": global_inductor_config_digest(),
    }
    for name, value in sorted({**weight_stripped_configs(), **dict(inductor_configs or {})}.items()):
        settings[f"inductor.{name}"] = repr(value)
    return settings


def cache_key(cache: EngineCache, exported_program: Any, example_inputs: Any, inductor_configs: Optional[Mapping] = None):
    """The EngineCache key of an AOTInductor build of this program (what get_or_compile looks up)."""
    import torch

    return cache.key(
        exported_program,
        example_inputs=example_inputs,
        settings=aoti_settings(exported_program, inductor_configs),
        toolchain={"torch": torch.__version__, **device_identity(exported_program), **aoti_toolchain.toolchain()},
        refit_mode="refittable",
    )


def get_or_compile(
    cache: EngineCache,
    exported_program: Any,
    example_inputs: Any,
    *,
    weights: Optional[Mapping[str, Any]] = None,
    inductor_configs: Optional[Mapping] = None,
    workdir: Optional[str] = None,
    progress: Optional[Callable[[str], None]] = None,
    load: bool = True,
    export_kwargs: Optional[Mapping[str, Any]] = None,
) -> AotiResult:
    """Key the program; on a miss compile a weight-stripped package and store it; on a hit load the
    cached package. Either way the program's current weights (or `weights`) are loaded as constants
    (unless load=False: then the package is only compiled / fetched and stored).

    exported_program may also be the torch.nn.Module itself: it is then exported through the export cache
    (graphcache.export, same `cache`; export_kwargs go to it), so a warm start does not re-trace."""
    import torch

    timings: Dict[str, float] = {}
    start = time.perf_counter()
    warm_up()
    timings["warmup"] = time.perf_counter() - start  # reported apart: a process cost, not a cache cost
    if isinstance(exported_program, torch.nn.Module):
        from .export_cache import export_cached

        exported = export_cached(exported_program, example_inputs, cache=cache, **dict(export_kwargs or {}))
        timings["export_hit" if exported.hit else "export"] = sum(exported.timings.values())
        exported_program = exported.program
    start = time.perf_counter()
    info = cache_key(cache, exported_program, example_inputs, inductor_configs)
    timings["key"] = time.perf_counter() - start
    own_workdir = workdir is None  # ours to remove: one temp folder per call must not pile up in /tmp
    workdir = workdir or tempfile.mkdtemp(prefix="graphcache-aoti-")
    try:
        return _get_or_compile_in(cache, exported_program, info, weights, inductor_configs, workdir, progress,
                                  load, timings)
    finally:
        if own_workdir:  # the package is loaded (its files unpacked elsewhere) or stored by now
            shutil.rmtree(workdir, ignore_errors=True)


def _get_or_compile_in(cache, exported_program, info, weights, inductor_configs, workdir, progress, load,
                       timings) -> AotiResult:
    package_path = os.path.join(workdir, f"{info.key if isinstance(info.key, str) else info.key.hex()}.pt2")
    constant_names = weight_access.fqn_names(exported_program, info.weight_names)

    say = progress or (lambda _stage: None)

    def build(_info: Any) -> BuildOutput:
        say("compile")
        compile_weight_stripped(exported_program, package_path, inductor_configs)
        return BuildOutput(engine=package_path, weight_slots=constant_names)

    say("lookup")
    start = time.perf_counter()
    result = cache.get_or_build(info, build, model=exported_program)
    if result.hit:
        with open(package_path, "wb") as f:  # aoti_load_package takes a path
            f.write(result.engine)
        timings["fetch"] = time.perf_counter() - start
    else:
        timings["compile"] = result.build_seconds
        timings["store"] = time.perf_counter() - start - result.build_seconds

    if not load:  # compile-and-store only (e.g. a build farm); runner stays None
        return AotiResult(runner=None, cache=result, timings=timings)
    say("load")
    start = time.perf_counter()
    runner = load_package(package_path, program_device(exported_program))
    if isinstance(runner, _RunnerModel):  # the bare runner returns flat outputs: give them the program's
        runner.out_spec = getattr(getattr(exported_program, "call_spec", None), "out_spec", None)
    timings["load"] = time.perf_counter() - start

    say("refit")
    start = time.perf_counter()
    refit(runner, exported_program, info.weight_names, result.weight_slot_map, weights)
    timings["refit"] = time.perf_counter() - start
    return AotiResult(runner=runner, cache=result, timings=timings)


def load_package(package_path: str, device: str = "cpu", loader: Optional[str] = None) -> Any:
    """Loads a .pt2 with Inductor's package loader (aoti_toolchain.load_package: without the per-process
    CPU-ISA probe), or, with loader="runner" (or the environment variable GRAPHCACHE_AOTI_LOADER=runner),
    by unpacking it with Python's zipfile and constructing Inductor's model-container runner on the
    wrapper .so directly."""
    loader = loader or os.environ.get("GRAPHCACHE_AOTI_LOADER", "package")
    if loader == "runner":
        return _RunnerModel(package_path, device)
    return aoti_toolchain.load_package(package_path, int(device.split(":")[1]) if ":" in device else -1)


class _RunnerModel:
    """The parts of AOTICompiledModel that graphcache uses, over AOTIModelContainerRunner{Cpu,Cuda}."""

    def __init__(self, package_path: str, device: str) -> None:
        import zipfile

        import torch

        self.out_spec = None  # set by get_or_compile: the program's output pytree spec
        self.dir = tempfile.mkdtemp(prefix="graphcache-aoti-unpacked-")
        # Removed when this model is collected (or at exit): the runner has loaded what it needs by then.
        weakref.finalize(self, shutil.rmtree, self.dir, True)
        with zipfile.ZipFile(package_path) as z:
            z.extractall(self.dir)
        libs = [os.path.join(root, f) for root, _, files in os.walk(self.dir) for f in files if f.endswith(".so")]
        if len(libs) != 1:
            raise RuntimeError(f"graphcache: expected one model .so in {package_path}, found {len(libs)}")
        so_path = libs[0]
        if device.startswith("cuda"):
            try:
                self.runner = torch._C._aoti.AOTIModelContainerRunnerCuda(so_path, 1, device, os.path.dirname(so_path))
            except TypeError:  # older signature without the cubin directory
                self.runner = torch._C._aoti.AOTIModelContainerRunnerCuda(so_path, 1, device)
        else:
            self.runner = torch._C._aoti.AOTIModelContainerRunnerCpu(so_path, 1)
        # runner constant names (internal) <-> state-dict FQNs
        self.internal_by_fqn = {fqn: name for name, fqn in self.runner.get_constant_names_to_original_fqns().items()}

    def get_constant_fqns(self):
        return list(self.internal_by_fqn)

    def load_constants(self, constants_map, *, check_full_update: bool, user_managed: bool = False) -> None:
        internal = {self.internal_by_fqn[fqn]: tensor for fqn, tensor in constants_map.items()}
        try:
            self.runner.update_constant_buffer(internal, False, check_full_update, user_managed)
        except TypeError:  # older signature without user_managed
            self.runner.update_constant_buffer(internal, False, check_full_update)

    def __call__(self, *args):
        import torch

        outputs = self.runner.run([a for a in args if isinstance(a, torch.Tensor)])
        if self.out_spec is not None:  # the current program's output structure (keyed: equal on a hit)
            from torch.utils import _pytree as pytree

            return pytree.tree_unflatten(list(outputs), self.out_spec)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def warm_up() -> None:
    """The per-process cost that compiling and loading both pay once: importing Inductor's package
    module. (Inductor's CPU vector-ISA probe, 38-43 s on the GPU machine, is not paid on a hit: see
    aoti_toolchain.load_package.)"""
    import torch._inductor.package  # noqa: F401


def device_identity(exported_program: Any) -> Dict[str, str]:
    """What the compiled code depends on besides torch: the GPU (name, compute capability) or the CPU
    (architecture and its instruction-set flags, which Inductor's vectorized C++ targets)."""
    import platform

    import torch

    device = torch.device(program_device(exported_program))
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return {"gpu": f"{props.name} sm_{props.major}{props.minor}", "cuda": str(torch.version.cuda)}
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].strip() for line in f if line.startswith("flags")), "")
    except OSError:
        pass
    return {"cpu": f"{platform.machine()} {' '.join(sorted(set(flags.split())))}"}


def refit(
    runner: Any,
    exported_program: Any,
    weight_names: Any,
    weight_slot_map: Mapping[str, str],
    weights: Optional[Mapping[str, Any]] = None,
    zero_copy: bool = True,
) -> None:
    """Loads the program's weights into the runner under the cached package's constant names.

    zero_copy: hand the tensors to the runner as user-managed constants (no copy: the refit costs
    microseconds whatever the model size, and later in-place updates of those weights are seen by the
    runner); the runner keeps references so they live as long as it does. Contiguous tensors only;
    others, and torch versions without user-managed constants, are copied."""
    tensors = weight_access.resolve(exported_program, weight_names, weights)
    constants = {weight_slot_map[name]: tensor.detach() for name, tensor in zip(weight_names, tensors)}
    needed = set(runner.get_constant_fqns())
    baked = sorted(constants.keys() - needed)
    if baked:
        # The package has no constant for these weight slots: its code holds values of its own (inlined
        # at compile time), so the current weights would be ignored - never serve that.
        raise RefitError(
            f"graphcache: the cached AOTInductor package cannot load weight(s) {baked[:5]} "
            f"({len(baked)} in all): they were compiled into its code; recompile with "
            "graphcache.aoti.weight_stripped_configs() (always_keep_tensor_constants=True)"
        )
    missing = needed - constants.keys()
    if missing:
        # Constants that no output reaches (not weight slots of the key) keep their names: take them
        # from the program by name so the package is fully initialised.
        by_name = weight_access.named_tensors(exported_program)
        for name in sorted(missing):
            if name not in by_name:
                raise KeyError(f"graphcache: the cached package needs constant {name!r}, the program has none")
            constants[name] = by_name[name].detach()
    zero_copy = zero_copy and all(t.is_contiguous() for t in constants.values())
    if zero_copy:
        try:
            runner.load_constants(constants, check_full_update=True, user_managed=True)
            runner._graphcache_constants = constants  # keeps user-managed tensors alive with the runner
            return
        except TypeError:  # a torch without user_managed
            pass
    runner.load_constants(constants, check_full_update=True)
