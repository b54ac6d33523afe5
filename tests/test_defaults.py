"""One home for defaults (issue 16, item 2): every settings dataclass built from a config section has the
defaults and the keys of that section's schema (workflow/schemas/sections/*.yaml, as assembled and validated).

A mismatch names the config key, the schema's value and the dataclass's value. Sections a registry inserts
(`SchemaPatch.sections`: a fault's ranges, a mechanism's keys, a separator's settings) have their defaults only
in their dataclass, so they are skipped here. Fields that are not config keys, and keys another object reads,
are listed per entry with the reason.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@dataclass(frozen=True)
class Entry:
    section: str                      # dotted config path of the section the dataclass is built from
    cls: str                          # "module:Class"
    flatten: tuple[str, ...] = ()     # nested-dataclass fields whose own fields sit in this section
    not_config: dict[str, str] = field(default_factory=dict)   # dataclass field -> why it is no config key here
    elsewhere: dict[str, str] = field(default_factory=dict)    # schema key -> who reads it instead


ENTRIES = (
    Entry("synthetic", "mixrep.corpus.generate:CorpusSettings"),
    Entry("dataset", "mixrep.datasets.manifest:DatasetSettings",
          not_config={"seed": "top-level `seed`", "shard_size": "top-level `shard_size`"}),
    Entry("analysis", "mixrep.analyse.settings:AnalyseSettings",
          not_config={"seed": "top-level `seed`", "degrade": "section degrade (its own entry)",
                      "features": "section features (its own entry)", "pretrain": "section pretrain (its own entry)"}),
    Entry("degrade", "mixrep.degrade.config:DegradeSettings",
          not_config={"fault_settings": "the fault sections degrade.<fault> (registry: SchemaPatch)"}),
    Entry("features", "mixrep.features.settings:FeatureSettings",
          not_config={"family_settings": "the family sections features.<family> (registry: SchemaPatch)"}),
    Entry("pretrain", "mixrep.pretrain.config:PretrainSettings"),
    Entry("ratings.panel", "mixrep.ratings.synthetic:PanelSettings"),
    Entry("regress", "mixrep.evaluation.regress:RegressSettings", flatten=("train",)),
    Entry("tsne", "mixrep.evaluation.tsne:TsneSettings",
          not_config={"threads": "the rule's threads (--threads), a runtime setting"}),
    Entry("evaluate", "mixrep.evaluation.evaluate:EvaluateSettings"),
    Entry("transfer", "mixrep.transfer.run:TransferSettings",
          not_config={"space": "built from transfer.params / transfer.bypass",
                      "ito": "built from transfer.preset / transfer.cmaes and the seed"},
          elsewhere={"pairs": "transfer/pairs.py (resolve_pairs)", "genre_pairs": "transfer/pairs.py",
                     "split": "transfer/pairs.py", "embedding": "transfer/cli.py",
                     "params": "ParamSpace", "bypass": "ParamSpace", "preset": "transfer/presets.py",
                     "cmaes": "transfer/presets.py"}),
    Entry("mushra", "mixrep.mushra.package:PackageSettings",
          elsewhere={"results_csv": "rule mushra_analysis (an input)", "drop_untouched": "mushra/analysis.py",
                     "bootstrap": "mushra/analysis.py", "screening": "mushra/analysis.py (ScreeningSettings)"}),
    Entry("separation.inference", "mixrep.separation.apply:ApplySettings",
          not_config={"seed": "top-level `seed`", "device": "runtime: the job's --device {resources.device}"}),
    Entry("separation.train", "mixrep.separation.scnet_entry:TrainSettings"),
    Entry("separation.model", "mixrep.separation.scnet_entry:SCNetModelSettings"),
)

# Drifts whose fix belongs to another helper of issue 16: strict xfail until it lands (then remove the mark).
PENDING = {
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from mixrep.config_schema import assembled_schema

    return assembled_schema(SCHEMA)


@pytest.fixture(scope="module")
def patched() -> set[str]:
    """Dotted config paths whose schema or default a registry inserts (from its dataclasses: nothing to compare)."""
    from mixrep.config_schema import registry_patches

    return {path for _, patch in registry_patches() for path in (*patch.sections, *patch.defaults)}


def locate(schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    node = schema
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def plain(value: Any) -> Any:
    """A default as the schema writes it: tuples as lists, dataclasses as mappings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def nested_type(cls: type, name: str) -> type | None:
    import typing

    hint = typing.get_type_hints(cls).get(name)
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def registry_owned(path: str, node: dict[str, Any], patched: set[str]) -> bool:
    """A patched section, or a container holding only patched sections (e.g. one per registered mechanism)."""
    children = node.get("properties")
    return path in patched or (bool(children) and all(f"{path}.{c}" in patched for c in children))


def drift(cls: type, node: dict[str, Any], path: str, patched: set[str], entry: Entry | None = None) -> list[str]:
    """Mismatches of one dataclass against its schema node: missing keys on either side, differing defaults."""
    entry = entry or Entry(path, "")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in entry.not_config}
    owners = {name: cls for name in fields}
    for name in entry.flatten:
        inner = nested_type(cls, name)
        del fields[name], owners[name]
        for f in dataclasses.fields(inner):
            fields[f.name], owners[f.name] = f, inner
    props = node.get("properties", {})
    skip = {k for k in props if registry_owned(f"{path}.{k}", props[k], patched)} | set(entry.elsewhere)
    problems = [f"{path}.{k}: in the schema (default {props[k].get('default')!r}), not in {cls.__name__}"
                for k in sorted(set(props) - set(fields) - skip)]
    problems += [f"{path}.{k}: field of {owners[k].__name__} (default {plain(field_default(fields[k]))!r}), "
                 "not in the schema" for k in sorted(set(fields) - set(props))]
    for name in sorted(set(fields) & set(props) - skip):
        prop, default = props[name], field_default(fields[name])
        inner = nested_type(owners[name], name)
        if inner is not None and "properties" in prop:
            problems += drift(inner, prop, f"{path}.{name}", patched)
            continue
        if "default" not in prop:
            problems.append(f"{path}.{name}: schema has no default, {owners[name].__name__} has {plain(default)!r}")
        elif default is dataclasses.MISSING:
            problems.append(f"{path}.{name}: schema {prop['default']!r}, {owners[name].__name__} has no default")
        elif plain(default) != prop["default"] or isinstance(default, bool) != isinstance(prop["default"], bool):
            problems.append(f"{path}.{name}: schema {prop['default']!r}, {owners[name].__name__} "
                            f"{plain(default)!r}")
    return problems


@pytest.mark.parametrize("entry", [
    pytest.param(e, id=e.section, marks=pytest.mark.xfail(strict=True, reason=PENDING[e.section]))
    if e.section in PENDING else pytest.param(e, id=e.section) for e in ENTRIES])
def test_dataclass_defaults_are_the_schema_defaults(entry, schema, patched):
    module, name = entry.cls.split(":")
    cls = getattr(importlib.import_module(module), name)
    problems = drift(cls, locate(schema, entry.section), entry.section, patched, entry)
    assert not problems, "defaults drift:\n" + "\n".join(problems)


def test_every_settings_section_is_checked(schema):
    """A section of the schema with no entry here would drift unseen (ablation: run names, checked by runs.py)."""
    covered = {e.section.split(".")[0] for e in ENTRIES}
    assert set(schema["properties"]) - covered - {"seed", "shard_size", "ablation"} == set()


def config_drift(values: dict, node: dict, path: str = "") -> dict[str, str]:
    """config.yaml key -> how it differs from the schema (unknown key, no schema default, other value)."""
    found = {}
    props = node.get("properties")
    for key, value in values.items():
        where = f"{path}{key}"
        if props is None:
            continue
        if key not in props:
            found[where] = "not in the schema"
        elif isinstance(value, dict) and "properties" in props[key]:
            found.update(config_drift(value, props[key], f"{where}."))
        elif "default" not in props[key]:
            found[where] = f"config.yaml {value!r}, schema has no default"
        elif props[key]["default"] != value:
            found[where] = f"config.yaml {value!r}, schema {props[key]['default']!r}"
    return found


# config.yaml keys that depart from the schema default on purpose: the embedded experiment's choice, not a default.
CONFIG_PENDING = {
    "ratings.panel.fault_weights": "the simulated panel forgives spatial faults (pan, width, reverb); the model's "
                                   "neutral default weighs every fault 1",
}


def test_config_yaml_is_the_schema_defaults(schema):
    """config.yaml writes the defaults out for the reader; a value that differs is a drift (one home: the schema)."""
    found = config_drift(yaml.safe_load((REPO / "config.yaml").read_text()), schema)
    unexpected = {k: v for k, v in found.items() if k not in CONFIG_PENDING}
    assert not unexpected, "config.yaml drifts from the schema:\n" + "\n".join(f"{k}: {v}" for k, v in unexpected.items())


@pytest.mark.parametrize("key", sorted(CONFIG_PENDING))
def test_config_yaml_pending_drifts_are_still_there(key, schema):
    """Remove a key from CONFIG_PENDING once its owner fixed it (this test fails then, to say so)."""
    assert key in config_drift(yaml.safe_load((REPO / "config.yaml").read_text()), schema), \
        f"{key} no longer drifts ({CONFIG_PENDING[key]} fixed it): remove it from CONFIG_PENDING"


@dataclass(frozen=True)
class Inner:
    steps: int = 240


@dataclass(frozen=True)
class Outer:
    batch_size: int = 4
    inner: Inner = field(default_factory=Inner)
    extra: str = "x"


def test_a_drift_is_reported_with_key_schema_value_and_dataclass_value():
    node = {"properties": {"batch_size": {"default": 2}, "inner": {"properties": {"steps": {"default": 1200}}},
                           "only_schema": {"default": True}, "patched": {"default": {}}}}
    assert drift(Outer, node, "sec", {"sec.patched"}) == [
        "sec.only_schema: in the schema (default True), not in Outer",
        "sec.extra: field of Outer (default 'x'), not in the schema",
        "sec.batch_size: schema 2, Outer 4",
        "sec.inner.steps: schema 1200, Inner 240",
    ]
