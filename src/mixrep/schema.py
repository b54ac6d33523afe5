"""Settings dataclasses <-> JSON schema: what a registry entry's settings contribute to the validated schema.

The YAML files under workflow/schemas/ hold the defaults of every experiment setting, except for the settings
that belong to one registry entry (a fault's ranges, a conditioning mechanism's keys, a separator's settings):
those live only in the entry's settings dataclass and are inserted here by `SchemaPatch`es, together with the
enums of registry names (`degrade.faults`, `separation.method`, `ablation.conditioning`, ...). So adding a
fault, family, mechanism or separator never needs a schema edit, and the schema cannot drift from the code.

This module knows no registry (a settings module imports it without pulling in every axis, so rerun hashes
stay per stage); `mixrep.config_schema` assembles the validated schema from the YAML files and the patches.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any


@dataclass(frozen=True)
class SchemaPatch:
    """What one registry adds to the schema.

    enums: dotted config path -> the names allowed there (for an array: its items; for a string: itself).
    sections: dotted config path -> the settings dataclass whose `dataclass_schema` is inserted there.
    defaults: dotted config path -> a default to set at that location (e.g. every registered fault).
    """

    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sections: Mapping[str, type] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- dataclass -> JSON schema
def _strip_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return tp, False


def _type_schema(tp: Any) -> dict[str, Any]:
    tp, optional = _strip_optional(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if is_dataclass(tp):
        out = dataclass_schema(tp)
    elif tp is bool:
        out = {"type": "boolean"}
    elif tp is int:
        out = {"type": "integer"}
    elif tp is float:
        out = {"type": "number"}
    elif tp is str:
        out = {"type": "string"}
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        out = {"type": "array", "items": _type_schema(args[0])}
    elif origin is tuple and args:
        out = {"type": "array", "items": _type_schema(args[0]), "minItems": len(args), "maxItems": len(args)}
    elif origin is list and args:
        out = {"type": "array", "items": _type_schema(args[0])}
    elif origin is typing.Literal:
        out = {"enum": list(args)}
    elif origin in (dict, Mapping) or tp in (dict, Mapping):
        out = {"type": "object"}
    else:
        raise TypeError(f"no schema for settings field type {tp!r}")
    if optional:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _json_default(value: Any) -> Any:
    if is_dataclass(value):
        return {}
    if isinstance(value, tuple):
        return [_json_default(v) for v in value]
    return value


#: JSON-schema keywords a settings field may carry in its metadata, e.g. `field(default=2, metadata={"minimum": 1})`.
_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "minItems", "maxItems"})


def dataclass_schema(cls: type) -> dict[str, Any]:
    """A JSON-schema object for a settings dataclass: its fields, types and defaults, no other keys."""
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    for item in fields(cls):
        prop = _type_schema(hints[item.name])
        if item.default is not MISSING:
            prop["default"] = _json_default(item.default)
        elif item.default_factory is not MISSING:  # type: ignore[misc]
            prop["default"] = _json_default(item.default_factory())  # type: ignore[misc]
        if item.metadata.get("help"):
            prop["description"] = item.metadata["help"]
        prop.update({k: v for k, v in item.metadata.items() if k in _KEYWORDS})
        properties[item.name] = prop
    doc = (cls.__doc__ or "").strip().splitlines()
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if doc and not doc[0].startswith(cls.__name__ + "("):
        out["description"] = doc[0]
    return out


# ---------------------------------------------------------------- mapping -> settings dataclass
def build_settings(cls: type, data: Mapping[str, Any] | None, prefix: str) -> Any:
    """An instance of settings dataclass `cls` from a mapping: unknown keys refused, lists to tuples."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{prefix}: unknown keys {unknown} (known: {sorted(known)})")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        tp, _ = _strip_optional(hints[name])
        if value is None:
            kwargs[name] = None
        elif is_dataclass(tp):
            kwargs[name] = value if isinstance(value, tp) else build_settings(tp, value, f"{prefix}.{name}")
        elif typing.get_origin(tp) is tuple:
            kwargs[name] = _to_tuple(tp, value, f"{prefix}.{name}")
        elif tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            kwargs[name] = float(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _to_tuple(tp: Any, value: Any, where: str) -> tuple:
    args = typing.get_args(tp)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: expected a list, got {value!r}")
    if args and args[-1] is not Ellipsis and len(args) != len(value):
        raise ValueError(f"{where}: expected {len(args)} values, got {value!r}")
    item = args[0] if args else Any
    if item is float:
        try:
            return tuple(float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected numbers, got {value!r}") from None
    return tuple(value)
