"""The config schema as validated: the YAML section schemas with the extension registries' patches applied.

The YAML files under workflow/schemas/ hold the defaults of every experiment setting except those that belong to
one registry entry (a fault's ranges, a mechanism's keys, a separator's settings): those live only in the entry's
settings dataclass and come in through `schema_patch()` of each axis module (mixrep.schema.SchemaPatch), with
the enums of registry names. `assembled_schema` inlines the section files (their `$ref`s), applies every patch;
`write_assembled_schema` writes it to the one JSON file `snakemake.utils.validate` reads (it takes a path only).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mixrep.schema import SchemaPatch, dataclass_schema

#: The modules whose `schema_patch()` the schema takes, one per extension axis (docs/EXTENDING.md).
PATCH_MODULES: tuple[str, ...] = (
    "mixrep.degrade.faults",
    "mixrep.features.families",
    "mixrep.model.conditionings",
    "mixrep.separation.separators",
)


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
