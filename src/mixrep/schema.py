"""The config schema as validated: the YAML section schemas plus what the extension registries contribute.

The YAML files under workflow/schemas/ hold the defaults of every experiment setting, except for the settings
that belong to one registry entry (a fault's ranges, a conditioning mechanism's keys, a separator's settings):
those live only in the entry's settings dataclass and are inserted here by `SchemaPatch`es, together with the
enums of registry names (`degrade.faults`, `separation.method`, `ablation.conditioning`, ...). So adding a
fault, family, mechanism or separator never needs a schema edit, and the schema cannot drift from the code.

`assembled_schema` inlines the section files (their `$ref`s), applies every patch and is written to one JSON
file that `snakemake.utils.validate` reads (it takes a path only).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

#: The modules whose `schema_patch()` the schema takes, one per extension axis (docs/EXTENDING.md).
PATCH_MODULES: tuple[str, ...] = (
    "mixrep.degrade.faults",
    "mixrep.features.families",
    "mixrep.model.conditionings",
    "mixrep.separation.separators",
)


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


# ---------------------------------------------------------------- the assembled schema
def _inline_refs(node: Any, base: Path) -> Any:
    """Replace `{$ref: "sections/x.schema.yaml", ...}` by the loaded file (its own keys kept on top)."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str) and not node["$ref"].startswith("#"):
            path = (base / node["$ref"]).resolve()
            raw = yaml.safe_load(path.read_text())
            loaded = _inline_refs(_resolve_local(raw, raw), path.parent)
            loaded.pop("$schema", None)
            loaded.pop("$defs", None)
            rest = {k: _inline_refs(v, base) for k, v in node.items() if k != "$ref"}
            return {**loaded, **rest}
        return {k: _inline_refs(v, base) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, base) for v in node]
    return node


def _resolve_local(node: Any, root: dict[str, Any]) -> Any:
    """Replace a file's own `{$ref: "#/$defs/x", ...}` by what it points to (the file is inlined elsewhere)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            rest = {k: _resolve_local(v, root) for k, v in node.items() if k != "$ref"}
            return {**_resolve_local(target, root), **rest}
        return {k: _resolve_local(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_local(v, root) for v in node]
    return node


def _locate(schema: dict[str, Any], dotted: str, create: bool = False) -> dict[str, Any]:
    """The sub-schema of config path `a.b.c` (objects' `properties`), created as empty objects if asked."""
    node = schema
    for part in dotted.split("."):
        props = node.setdefault("properties", {}) if create else node.get("properties", {})
        if part not in props:
            if not create:
                raise KeyError(f"schema has no {dotted!r} (at {part!r})")
            props[part] = {"type": "object", "additionalProperties": False, "properties": {}, "default": {}}
        node = props[part]
    return node


def apply_patch(schema: dict[str, Any], patch: SchemaPatch, origin: str = "") -> None:
    for dotted, names in patch.enums.items():
        node = _locate(schema, dotted)
        target = node["items"] if node.get("type") == "array" else node
        target["enum"] = list(names)
    for dotted, cls in patch.sections.items():
        parent, _, key = dotted.rpartition(".")
        holder = _locate(schema, parent, create=True) if parent else schema
        props = holder.setdefault("properties", {})
        if key in props:
            raise ValueError(f"{origin or 'a schema patch'}: {dotted} is also in the YAML schema; "
                             "a registry-owned section lives only in its settings dataclass")
        props[key] = {**dataclass_schema(cls), "default": {}}
    for dotted, value in patch.defaults.items():
        _locate(schema, dotted)["default"] = value


def registry_patches(modules: tuple[str, ...] = PATCH_MODULES) -> list[tuple[str, SchemaPatch]]:
    """`schema_patch()` of every extension axis module that exists."""
    patches = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # an axis without a registry module yet
                continue
            raise
        patches.append((name, module.schema_patch()))
    return patches


def assembled_schema(schema_path: str | Path, modules: tuple[str, ...] = PATCH_MODULES) -> dict[str, Any]:
    """The top-level schema with every section inlined and every registry patch applied."""
    schema_path = Path(schema_path).resolve()
    schema = _inline_refs(yaml.safe_load(schema_path.read_text()), schema_path.parent)
    for origin, patch in registry_patches(modules):
        apply_patch(schema, patch, origin)
    return schema


def write_assembled_schema(schema_path: str | Path, modules: tuple[str, ...] = PATCH_MODULES) -> Path:
    """Write the assembled schema to a JSON file named by its content (what `snakemake.utils.validate` reads)."""
    text = json.dumps(assembled_schema(schema_path, modules), indent=1, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"mixrep-schema-{digest}.json"
    if not out.exists():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(out)
    return out
