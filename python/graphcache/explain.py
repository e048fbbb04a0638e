"""Why did it miss? Explanations of EngineCache misses against what the cache holds.

Entries stored by EngineCache (and so by graphcache.aoti and the Torch-TensorRT cache) record their key
factors (settings, toolchain, input specs, refit mode, model) and a compressed structural summary in
their metadata. EngineCache.explain(model, ...) - same arguments as EngineCache.key - answers "hit", or
names the nearest entries and what differs: each setting / toolchain item / input spec / refit mode with
its cached and current value when the structure is the same, else the first differing node, attribute
or edge of the nearest structure (as graphcache.diff prints it). A miss in EngineCache.get_or_build logs
the explanation at INFO level on the logger "graphcache". See include/graphcache/explain.hpp.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, List, Optional

logger = logging.getLogger("graphcache")


def event(kind: str, key: str, tier: str = "", nbytes: int = 0, seconds: float = 0.0, **detail: Any) -> None:
    """A structured cache event (hit, miss, put, not_stored, lock_wait) on the "graphcache" logger at DEBUG;
    the fields are also in the record's `graphcache_event` attribute for handlers that want them."""
    if logger.isEnabledFor(logging.DEBUG):
        fields = {"event": kind, "key": key, "tier": tier, "bytes": int(nbytes), "ms": seconds * 1e3, **detail}
        logger.debug("graphcache event %s", json.dumps(fields), extra={"graphcache_event": fields})


@dataclass
class Explanation:
    result: str  # "hit", "same_structure", "nearest_structure" or "none_close"
    key: str
    candidates: List[dict] = field(default_factory=list)  # {key, tier, model, similarity, differences: [...]}
    indexed_entries: int = 0
    seconds: float = 0.0
    lines: List[str] = field(default_factory=list)

    @property
    def differences(self) -> List[dict]:
        """The nearest candidate's differences: {kind, name, cached, current, text}."""
        return list(self.candidates[0]["differences"]) if self.candidates else []

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _core_arguments(model: Any, info: Any):
    """The _core arguments that reproduce the key of a CacheKeyInfo from EngineCache.key(): the request it
    was given, with its refit mode and the weight fingerprint it computed (not computed again)."""
    import graphcache

    example_inputs, settings, relevant, toolchain = info.request
    fingerprint = info.info.metadata.get("weight_fingerprint") or None
    setting_list, tools, _, types, specs, typed = graphcache._key_request(
        model, example_inputs, settings, relevant, toolchain, info.refit_mode, fingerprint
    )
    return (model, types, setting_list, tools, specs), typed


def entry_fields(model: Any, info: Any, key_hex: str, model_name: str = "") -> Optional[dict]:
    """Metadata `extra` fields recording the model's factors, or None when they would describe another key."""
    from . import _core

    if getattr(info, "request", None) is None:
        return None
    args, typed = _core_arguments(model, info)
    key, fields = _core.explain_fields(*args, model_name=model_name, **typed)
    return dict(fields) if key == key_hex else None


def explain(cache: Any, model: Any, info: Any) -> Explanation:
    from . import _core

    args, typed = _core_arguments(model, info)
    out = _core.explain(*args, cache_dir=cache.path, remote=cache.remote, **typed)
    for warning in out["warnings"]:
        logger.warning("graphcache: %s", warning)
    j = json.loads(out["json"])
    return Explanation(
        result=j["result"],
        key=j["key"],
        candidates=j["candidates"],
        indexed_entries=j["indexed_entries"],
        seconds=j["seconds"],
        lines=list(out["lines"]),
    )
