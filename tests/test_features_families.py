"""The feature family registry: columns, extractor, run names, schema and evaluation all follow from it,
and a new family is its own module plus one registry line (tests/extending_family.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixrep import runs
from mixrep.evaluation.data import feature_columns as table_feature_columns
from mixrep.features import extract_features, family_columns, feature_columns
from mixrep.features.analysis import Analysis
from mixrep.features.columns import TARGETS
from mixrep.features.families import FAMILIES, family_sets, schema_patch
from mixrep.features.settings import FeatureSettings
from mixrep.stems import SAMPLE_RATE

sys.path.insert(0, str(Path(__file__).parent))
from extending_family import OVERLAY, SMOKE, add_dummy  # noqa: E402


def _stems(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((4, 2, int(seconds * SAMPLE_RATE)))).astype(np.float32)


def test_the_registry_is_the_one_list_of_families() -> None:
    assert FAMILIES.names() == ("dynamics", "spectral", "stereo", "masking")
    assert runs.FAMILIES == FAMILIES.names()
    assert runs.FAMILY_SETS == family_sets() == ("all", *(f"no_{f}" for f in FAMILIES))
    assert runs.parse_run("film-no_stereo").families == ("dynamics", "spectral", "masking")


def test_columns_are_each_familys_declared_features_in_registry_order() -> None:
    expected = []
    for name in FAMILIES:
        declared = FAMILIES.get(name).features
        columns = [f"{name}.{t}.{f.feature}" for t in TARGETS for f in declared if t in f.targets()]
        assert family_columns(name) == columns
        expected += columns
    assert feature_columns() == expected


def test_every_family_computes_exactly_what_it_declares() -> None:
    analysis = Analysis(_stems(), SAMPLE_RATE, FeatureSettings())
    for name in FAMILIES:
        family = FAMILIES.get(name)
        computed = family.compute(analysis, None)
        got = {f"{t}.{f}" for t, values in computed.items() for f in values}
        assert got == {f"{t}.{f.feature}" for f in family.features for t in f.targets()}, name


def test_the_schema_patch_gives_the_family_sets_and_no_yaml_copy_of_them(repo_root: Path) -> None:
    from mixrep.config_schema import assembled_schema

    patch = schema_patch()
    assert dict(patch.enums) == {"ablation.families": family_sets()}
    assert dict(patch.sections) == {}  # the four families keep their settings in the shared `features:` keys
    schema = assembled_schema(repo_root / "workflow/schemas/config.schema.yaml")
    assert schema["properties"]["ablation"]["properties"]["families"]["items"]["enum"] == list(family_sets())
    sections = repo_root / "workflow/schemas/sections"
    for name in ("ablation.schema.yaml", "features.schema.yaml"):  # no second list of family names
        text = (sections / name).read_text()
        assert not [f for f in FAMILIES if f"no_{f}" in text], name


def test_an_unknown_family_in_a_table_is_an_error_not_dropped() -> None:
    row = extract_features(_stems(0.5), SAMPLE_RATE)
    table = pd.DataFrame([{"track_id": "t", "variant_id": 0, **row}])
    assert table_feature_columns(table) == feature_columns()
    table["timbre.mix.brightness"] = 1.0
    with pytest.raises(ValueError, match=r"unknown feature families \['timbre'\]"):
        table_feature_columns(table, "features.parquet")


DUMMY_CHECK = r'''
import json, sys
import numpy as np
from mixrep import runs
from mixrep.features import extract_features, feature_columns, family_columns
from mixrep.features.families import FAMILIES, schema_patch
from mixrep.features.settings import FeatureSettings
from mixrep.config_schema import assembled_schema
from mixrep.workflow_config import validate_config
import yaml

stems = (0.1 * np.random.default_rng(0).standard_normal((4, 2, 22050))).astype(np.float32)
plain = extract_features(stems, 44100)
offset = extract_features(stems, 44100, {"dummy": {"offset_db": 2.0}})
try:
    FeatureSettings.from_config({"dummy": {"gain": 1}})
    refused = ""
except ValueError as exc:
    refused = str(exc)
config = yaml.safe_load(open("config.yaml"))
config["ablation"]["families"] = ["all", "no_dummy"]
validate_config(config, "workflow/schemas/config.schema.yaml")
schema = assembled_schema("workflow/schemas/config.schema.yaml")
print(json.dumps({
    "families": list(FAMILIES.names()), "dummy_columns": family_columns("dummy"),
    "last_columns": feature_columns()[-5:], "peak": plain["dummy.mix.peak_db"],
    "peak_offset": offset["dummy.mix.peak_db"], "dynamics_peak": plain["dynamics.mix.peak_db"],
    "refused": refused, "enum": list(schema_patch().enums["ablation.families"]),
    "section": schema["properties"]["features"]["properties"]["dummy"],
    "filled": config["features"]["dummy"], "run": list(runs.parse_run("film-no_dummy").families),
}))
'''


def test_a_dummy_family_is_one_module_and_one_registry_line(repo_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(repo_root / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(repo_root / "workflow" / "schemas", copy / "workflow" / "schemas")
    shutil.copy(repo_root / "config.yaml", copy / "config.yaml")
    touched = add_dummy(copy)
    assert sorted(p.relative_to(copy).as_posix() for p in touched) == [
        "src/mixrep/features/dummy.py", "src/mixrep/features/families.py"]
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", DUMMY_CHECK], cwd=copy, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["families"][-1] == "dummy"
    assert out["dummy_columns"] == out["last_columns"] == [f"dummy.{t}.peak_db" for t in TARGETS]
    assert out["peak"] == pytest.approx(out["dynamics_peak"], abs=1e-4)
    assert out["peak_offset"] == pytest.approx(out["peak"] + 2.0, abs=1e-4)
    assert "features.dummy" in out["refused"] and "gain" in out["refused"]
    assert out["enum"][-1] == "no_dummy"
    assert out["section"]["properties"]["offset_db"]["default"] == 0.0
    assert out["filled"] == {"offset_db": 0.0}
    assert out["run"] == ["dynamics", "spectral", "stereo", "masking"]
    smoke = subprocess.run([sys.executable, "-c", SMOKE], cwd=copy, env=env, capture_output=True, text=True,
                           timeout=300)
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    assert OVERLAY["ablation"]["families"][-1] in out["enum"]
