"""The conditioning registry is the one list of mechanisms: run names, the ablation grid, the schema (enums and
settings sections), the docs table and the encoder all follow it; a new mechanism is its own module plus one
registry line (tests/extending_conditioning.py), and it trains."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from extending_conditioning import NAME, REGISTER, REGISTRY, SMOKE, add_dummy
from mixrep import runs
from mixrep.config_schema import assembled_schema
from mixrep.model.conditionings import CONDITIONINGS, build_all_settings, schema_patch
from mixrep.pretrain.config import PretrainSettings
from mixrep.schema import dataclass_schema

REPO = Path(__file__).resolve().parents[1]


def test_runs_and_the_grid_follow_the_registry() -> None:
    assert runs.CONDITIONINGS == CONDITIONINGS.names() == ("film", "prepend", "xattn")
    cells = runs.grid(positives=runs.POSITIVES)
    assert {spec.conditioning for spec in cells} == {runs.NONE, *CONDITIONINGS}
    for name in CONDITIONINGS:
        assert runs.parse_run(f"{name}-all") == runs.RunSpec(name, "all")


def test_the_schema_takes_names_and_settings_from_the_registry() -> None:
    schema = assembled_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")["properties"]
    for key in ("conditioning", "recipe_conditioning"):
        assert schema["ablation"]["properties"][key]["items"]["enum"] == list(CONDITIONINGS.names())
    sections = schema["pretrain"]["properties"]["conditioning"]["properties"]
    assert list(sections) == list(CONDITIONINGS.names())
    for name in CONDITIONINGS:
        assert sections[name] == {**dataclass_schema(CONDITIONINGS.get(name).settings), "default": {}}
    assert set(schema_patch().enums) == {"ablation.conditioning", "ablation.recipe_conditioning"}


def test_the_yaml_schemas_hold_no_mechanism_key() -> None:
    """Mechanism names and settings live in the registry only (the patch refuses a section also in the YAML)."""
    sections = REPO / "workflow" / "schemas" / "sections"
    pretrain = yaml.safe_load((sections / "pretrain.schema.yaml").read_text())["properties"]
    assert not {"film_layers", "prepend_tokens", "device"} & set(pretrain)
    assert not pretrain["conditioning"].get("properties")
    ablation = yaml.safe_load((sections / "ablation.schema.yaml").read_text())["properties"]
    assert "enum" not in ablation["conditioning"]["items"] and "enum" not in ablation["recipe_conditioning"]["items"]


def test_settings_defaults_come_from_the_dataclasses() -> None:
    settings = PretrainSettings.from_config({"pretrain": {}})
    assert settings.conditioning == {name: CONDITIONINGS.get(name).settings() for name in CONDITIONINGS}
    custom = PretrainSettings.from_config({"pretrain": {"conditioning": {"film": {"layers": [1]}}}})
    assert custom.conditioning["film"].layers == (1,) and custom.to_dict()["conditioning"]["film"] == {"layers": [1]}
    for bad, words in (({"gru": {}}, "unknown mechanisms"), ({"prepend": {"tokens": 0}}, "at least 1"),
                       ({"film": {"tokenz": 1}}, "pretrain.conditioning.film: unknown keys")):
        try:
            build_all_settings(bad)
        except ValueError as error:
            assert words in str(error)
        else:
            raise AssertionError(f"{bad} accepted")


def test_the_docs_table_lists_every_mechanism() -> None:
    text = (REPO / "docs" / "pretrain.md").read_text()
    missing = [name for name in CONDITIONINGS if f"| `{name}` |" not in text]
    assert not missing, f"docs/pretrain.md: no table row for {missing}"


def test_a_new_mechanism_is_its_module_plus_one_registry_line_and_it_trains(tmp_path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    touched = sorted(Path(p).relative_to(root).as_posix() for p in add_dummy(root))
    assert touched == sorted([REGISTRY, f"src/mixrep/model/conditioning_{NAME}.py"])
    before, after = (REPO / REGISTRY).read_text().splitlines(), (root / REGISTRY).read_text().splitlines()
    assert len(after) == len(before) + REGISTER.count("\n") <= len(before) + 2 and set(before) <= set(after)
    env = dict(os.environ, PYTHONPATH=str(root / "src"), OMP_NUM_THREADS="1")
    check = ("from mixrep.model.conditionings import schema_patch; import mixrep.runs as r; p = schema_patch(); "
             "assert 'dummy' in r.CONDITIONINGS and 'dummy' in p.enums['ablation.conditioning'], p; "
             "assert 'pretrain.conditioning.dummy' in p.sections; import sys; assert 'torch' not in sys.modules")
    for code in (check, SMOKE):
        done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "dummy conditioning ok" in done.stdout
