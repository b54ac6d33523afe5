"""The fault registry: what lists the faults (schema, config, recipes, docs) agrees with it; a new fault is
one module + one registry line (tests/extending_fault.py); the recipes drawn stay those of before."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mixrep.degrade import FAULTS, DegradeSettings, sample_recipe
from mixrep.degrade.faults import EFFECTS, fault_sections, make_effect, markdown_table, schema_patch
from mixrep.degrade.faults.gain import Headroom
from mixrep.config_schema import assembled_schema
from mixrep.schema import dataclass_schema

#: The drawing order of the faults: part of every recipe (a fault's index in `degrade.faults` is drawn).
ORDER = ("gain", "eq_peak", "eq_low_shelf", "eq_high_shelf", "tilt", "compress", "expand", "highpass", "lowpass",
         "reverb", "pan", "width")


def test_registry_keeps_the_drawing_order():
    assert FAULTS.names()[:len(ORDER)] == ORDER
    for name in FAULTS:
        fault = FAULTS.get(name)
        assert fault.name == name and fault.effect.name == name and fault.family in ("spectral", "dynamics", "stereo")


def _recipes_digest(**settings) -> str:
    digest = hashlib.sha256()
    for track in ("syn-rock-3", "000002", "fma_123"):
        for variant in range(9):
            digest.update(sample_recipe(track, variant, DegradeSettings(**settings), 0).effects_json().encode())
    return digest.hexdigest()


def test_recipes_are_those_drawn_before_the_registry():
    """Pinned on the code before the registry (commit 129158f): the same 27 recipes, pool and no pool."""
    assert _recipes_digest() == "78bbd23f2e7cf6a24a8b376305ba9bb4e6e2882a73a81d9f893e502b05834575"
    assert _recipes_digest(recipe_pool=0) == "1fa19d8df46d37e3ebba1412b0b75236a9062b6aefe7b84bcb2146e08a5d407e"


def test_effects_are_the_faults_and_the_headroom_gain():
    assert list(EFFECTS) == [*FAULTS.names(), "headroom"]
    assert all(EFFECTS[name] is FAULTS.get(name).effect for name in FAULTS)
    assert EFFECTS["headroom"] is Headroom
    assert make_effect("gain", {"gain_db": 2.0}).params() == {"gain_db": 2.0}


def test_schema_patch_is_the_registry(repo_root):
    patch = schema_patch()
    assert patch.enums == {"degrade.faults": FAULTS.names()}
    assert patch.defaults["degrade.faults"] == list(FAULTS.names())
    sections = fault_sections()
    assert {f"degrade.{key}" for key, fault in sections.items() if not fault.flat} == set(patch.sections)
    flat = {f"degrade.{key}" for key, fault in sections.items() if fault.flat}
    assert flat == set(patch.defaults) - {"degrade.faults"}
    # the YAML section holds no fault section (the patch inserts them) and no fault's default
    schema = assembled_schema(repo_root / "workflow/schemas/config.schema.yaml", modules=())
    yaml_degrade = schema["properties"]["degrade"]["properties"]
    assert not set(patch.sections) & {f"degrade.{key}" for key in yaml_degrade}
    assert all("default" not in yaml_degrade[key] for key, fault in sections.items() if fault.flat)
    assert "enum" not in yaml_degrade["faults"]["items"] and "default" not in yaml_degrade["faults"]
    patched = assembled_schema(repo_root / "workflow/schemas/config.schema.yaml", modules=("mixrep.degrade.faults",))
    degrade = patched["properties"]["degrade"]["properties"]
    for key, fault in sections.items():
        if not fault.flat:
            assert degrade[key]["properties"] == dataclass_schema(fault.settings)["properties"]


def test_docs_table_is_the_registry_table(repo_root):
    """docs/degrade.md, "Faults", holds `markdown_table()`: every fault, in order, with its family and defaults."""
    table = markdown_table()
    assert table in (repo_root / "docs/degrade.md").read_text(), "regenerate the Faults table of docs/degrade.md"
    rows = [line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]]
    assert rows == [*FAULTS.names(), "headroom"]


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r"degrade.gain_db: low 4.0 > high 2.0"):
        DegradeSettings.from_config({"gain_db": [4, 2]})
    with pytest.raises(ValueError, match=r"degrade.pan: expected a \[low, high\] pair"):
        DegradeSettings.from_config({"pan": 0.5})
    with pytest.raises(ValueError, match=r"degrade.eq_peak.q: needs positive bounds"):
        DegradeSettings.from_config({"eq_peak": {"q": [0, 2]}})
    with pytest.raises(ValueError, match=r"degrade.bandwidth.order"):
        DegradeSettings.from_config({"bandwidth": {"order": 40}})
    with pytest.raises(ValueError, match=r"degrade.reverb: unknown keys \['wet'\]"):
        DegradeSettings.from_config({"reverb": {"wet": [0, 1]}})
    config = DegradeSettings.from_config({"eq_shelf": {"q": 1}, "pan": [0.2, 0.3]})
    assert config.settings_of("eq_low_shelf") is config.settings_of("eq_high_shelf")
    assert config.settings_of("eq_low_shelf").q == 1.0 and config.settings_of("pan").position == (0.2, 0.3)


def test_a_dummy_fault_is_one_module_and_one_registry_line(repo_root, tmp_path):
    sys.path.insert(0, str(repo_root / "tests"))
    try:
        from extending_fault import SMOKE, add_dummy
    finally:
        sys.path.remove(str(repo_root / "tests"))
    shutil.copytree(repo_root / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    touched = add_dummy(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in touched) == [
        "src/mixrep/degrade/faults/__init__.py", "src/mixrep/degrade/faults/dummy.py"]
    result = subprocess.run([sys.executable, "-c", SMOKE], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(tmp_path / "src"), "PATH": "", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_every_fault_draws_within_its_ranges_and_renders():
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((2, 4410)) * 0.1).astype(np.float32)
    config = DegradeSettings()
    for name in FAULTS:
        effect = config.draw(name, np.random.default_rng(1))
        assert type(effect) is FAULTS.get(name).effect
        out = effect.resolved(audio).apply(audio, 44100)
        assert out.shape == audio.shape and out.dtype == np.float32
