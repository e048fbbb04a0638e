"""JSON -> torch.export's serialization schema dataclasses, fast.

torch._export.serde.serialize._dict_to_dataclass does the same conversion but calls typing.get_type_hints
for every object it builds (tens of thousands for a 7b Llama program): about 70% of a deserialization.
This builds one converter per schema type, once, and then only walks the data: same result (checked by
tests/python/test_export_cache.py against torch's own), a fraction of the time. The rest of the load is
torch's own deserializer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import types
import typing
from typing import Any, Callable, Dict

_Converter = Callable[[Any], Any]
_converters: Dict[Any, _Converter] = {}


def _schema():
    from torch._export.serde import schema

    return schema


def _resolve(cls: Any) -> Any:
    schema = _schema()
    if isinstance(cls, str):
        return getattr(schema, cls, cls)
    if isinstance(cls, typing.ForwardRef):
        return _resolve(cls.__forward_arg__)
    return cls


def _converter(cls: Any) -> _Converter:
    try:
        return _converters[cls]
    except (KeyError, TypeError):
        pass
    made = _make(cls)
    try:
        _converters[cls] = made
    except TypeError:  # an unhashable type annotation: not cached
        pass
    return made


def _make(cls: Any) -> _Converter:
    from torch._export.serde.union import _Union

    schema = _schema()
    cls = _resolve(cls)
    if isinstance(cls, str):
        raise ValueError(f"unresolved schema type {cls!r}")
    origin = typing.get_origin(cls)
    if origin is typing.Annotated:
        return _converter(cls.__origin__)
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(cls):
        inner_args = typing.get_args(cls)
        if len(inner_args) != 2:
            raise ValueError(f"unsupported union {cls!r}")
        inner: list = []

        def optional(data: Any) -> Any:
            if data is None:
                return None
            if not inner:
                inner.append(_converter(inner_args[0]))
            return inner[0](data)

        return optional
    if isinstance(cls, type) and issubclass(cls, _Union):
        from torch._export.serde.union import _UnionTag

        hints = typing.get_type_hints(cls, globalns=vars(schema))
        unset = {f.name: None for f in dataclasses.fields(cls)}
        fields: Dict[str, Any] = {}  # tag -> (converter, the shared _UnionTag)

        def union(data: Any) -> Any:
            # What _Union.create(**{name: value}) makes (every other field None, _type the tag), without
            # running the dataclass __init__ / __post_init__ checks of the class for every object.
            if not isinstance(data, dict) or len(data) != 1:
                raise ValueError(f"{cls.__name__}: expected a one-key object")
            ((name, value),) = data.items()
            known = fields.get(name)
            if known is None:
                if name not in unset:
                    raise ValueError(f"{cls.__name__}: unknown tag {name!r}")
                known = fields[name] = (_converter(hints[name]), _UnionTag.create(name, cls))
            obj = object.__new__(cls)
            state = obj.__dict__
            state.update(unset)
            state[name] = known[0](value)
            state["_type"] = known[1]
            return obj

        return union
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls, globalns=vars(schema))
        names = [f.name for f in dataclasses.fields(cls)]
        field_converters: Dict[str, _Converter] = {}

        def record(data: Any) -> Any:
            if not isinstance(data, dict):
                raise ValueError(f"{cls.__name__}: expected an object")
            values = {}
            for name in names:  # keys the dataclass does not know are ignored, as torch does
                if name in data:
                    convert = field_converters.get(name)
                    if convert is None:
                        convert = field_converters[name] = _converter(hints[name])
                    values[name] = convert(data[name])
            return cls(**values)

        return record
    if origin in (list, typing.List):
        (item_type,) = typing.get_args(cls)
        item: list = []

        def listing(data: Any) -> Any:
            if not isinstance(data, list):
                return data
            if not data:
                return data
            if not item:
                item.append(_converter(item_type))
            return [item[0](x) for x in data]

        return listing
    if origin in (dict, typing.Dict):
        value_type = typing.get_args(cls)[1]
        value: list = []

        def mapping(data: Any) -> Any:
            if not isinstance(data, dict):
                return data
            if not value:
                value.append(_converter(value_type))
            return {k: value[0](v) for k, v in data.items()}

        return mapping
    if cls is float:
        return lambda data: float(data)
    return lambda data: data


def exported_program_from_json(data: bytes) -> Any:
    """The schema.ExportedProgram of torch.export's JSON (what serde's _bytes_to_dataclass returns)."""
    return _converter(_schema().ExportedProgram)(json.loads(data))


@contextlib.contextmanager
def fast_tensor_meta():
    """While active, torch's GraphModuleDeserializer makes the FakeTensor of a tensor with static sizes and
    strides directly (a meta tensor wrapped by the deserializer's FakeTensorMode) instead of dispatching
    empty_strided through the fake mode's dispatcher and op cache: about half of a deserialization, for
    the same tensor (device normalized by FakeTensor itself; symbolic sizes take torch's own path).
    The class attribute is restored on exit."""
    import torch
    from torch._export.serde import serialize as serde
    from torch._subclasses.fake_tensor import FakeTensor

    deserializer = serde.GraphModuleDeserializer
    original = deserializer.deserialize_tensor_meta
    dtypes = serde._SERIALIZE_TO_TORCH_DTYPE

    def deserialize_tensor_meta(self, tensor_meta):
        sizes, strides = tensor_meta.sizes, tensor_meta.strides
        if not all(v.type == "as_int" for v in sizes) or not all(v.type == "as_int" for v in strides):
            return original(self, tensor_meta)
        elem = torch.empty_strided([v.as_int for v in sizes], [v.as_int for v in strides],
                                   dtype=dtypes[tensor_meta.dtype], device="meta")
        if tensor_meta.requires_grad:
            elem.requires_grad_(True)
        return FakeTensor(self.fake_tensor_mode, elem, serde.deserialize_device(tensor_meta.device))

    deserializer.deserialize_tensor_meta = deserialize_tensor_meta
    try:
        yield
    finally:
        deserializer.deserialize_tensor_meta = original
