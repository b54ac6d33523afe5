"""The separator registry: what it puts into the schema, the defaults of the default run, the predicates the
workflow asks, and a separator added in a copy of the repository (module + registry line) that validates,
plans and separates."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import extending_separator
from mixrep.config_schema import assembled_schema
from mixrep.separation import separators
from mixrep.separation.separators import SEPARATORS
from mixrep.workflow_config import validate_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SECTION = REPO / "workflow" / "schemas" / "sections" / "separation.schema.yaml"

# What config.yaml spelled out for the default run before the defaults moved into the settings dataclasses:
# the validated default config must still give exactly these values.
DEFAULT_RUN = {
    "method": "scnet", "checkpoint": None, "checkpoint_model": "small", "stem_format": "flac24",
    "model": {"sources": ["drums", "bass", "other", "vocals"], "audio_channels": 2, "dims": [4, 16, 32, 64],
              "nfft": 2048, "hop_size": 512, "win_size": 2048, "normalized": True,
              "band_SR": [0.175, 0.392, 0.433], "band_stride": [1, 4, 16], "band_kernel": [3, 4, 16],
              "conv_depths": [1, 1, 1], "compress": 4, "conv_kernel": 3, "num_dplayer": 2, "expand": 1},
    "train": {"steps": 500, "batch_size": 4, "segment_s": 1.0, "lr": 0.002, "decay_rate": 0.9, "decay_every": 50,
              "loss": "l1", "eval_every": 100, "val_seconds": 8.0, "max_val_tracks": 4, "grad_clip": 0.0,
              "augment": {"remix": True, "gain_min": 0.25, "gain_max": 1.25, "flip_channels": True,
                          "flip_sign": True, "active_only": True}},
    "inference": {"segment_s": 11.0, "overlap": 0.25, "batch_size": 2, "shifts": 0, "transition_power": 1.0},
}


def validated(config: dict) -> dict:
    config = copy.deepcopy(config)
    validate_config(config, SCHEMA)
    return config


def test_the_schema_takes_the_method_enum_and_the_sections_from_the_registry() -> None:
    schema = assembled_schema(SCHEMA)["properties"]["separation"]["properties"]
    assert schema["method"]["enum"] == list(SEPARATORS.names()) == ["scnet", "oracle"]
    assert {"inference", "model", "train"} <= set(schema)
    # a registry-owned section lives only in its dataclass: the YAML section schema does not spell it
    yaml_keys = set(yaml.safe_load(SECTION.read_text())["properties"])
    assert yaml_keys.isdisjoint(separators.sections()), yaml_keys & set(separators.sections())
    assert "threads" not in schema and "device" not in schema["inference"]["properties"]  # runtime: the rules'


def test_the_default_run_keeps_its_separation_settings() -> None:
    config = validated(yaml.safe_load((REPO / "config.yaml").read_text()))
    assert config["separation"] == DEFAULT_RUN


def test_dataclass_defaults_are_the_schema_defaults() -> None:
    from dataclasses import asdict

    from mixrep.separation.apply import ApplySettings
    from mixrep.separation.scnet import CPU_KWARGS
    from mixrep.separation.scnet_entry import SCNetModelSettings, TrainSettings

    section = validated({})["separation"]
    assert SCNetModelSettings.from_config(section["model"]) == SCNetModelSettings()
    assert TrainSettings.from_config(section["train"]) == TrainSettings()
    assert SCNetModelSettings().kwargs() == CPU_KWARGS == DEFAULT_RUN["model"]
    applied = ApplySettings.from_config(section["inference"], seed=3, device="cpu")
    assert asdict(applied) == {**DEFAULT_RUN["inference"], "device": "cpu", "seed": 3}
    with pytest.raises(ValueError, match="separation.inference: unknown keys \\['device'\\]"):
        ApplySettings.from_config({"device": "cpu"})


@pytest.mark.parametrize("section,reads,trains,true_stems", [
    ({"method": "scnet", "checkpoint": None}, True, True, True),
    ({"method": "scnet", "checkpoint": "given.th"}, True, False, False),
    ({"method": "oracle", "checkpoint": None}, False, False, True),
    ({"method": "oracle", "checkpoint": "left.th"}, False, False, True),
])
def test_what_the_workflow_asks_of_a_separator(section: dict, reads: bool, trains: bool, true_stems: bool) -> None:
    assert separators.reads_checkpoint(section) is reads
    assert bool(separators.trains_here(section)) is trains
    assert bool(separators.needs_true_stems(section)) is true_stems


def test_an_unknown_method_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown separator 'demucs' \(known: \['scnet', 'oracle'\]\)"):
        separators.trains_here({"method": "demucs"})


def _copy_repo(dest: Path) -> Path:
    skip = {".git", ".venv", "results", ".snakemake", "__pycache__", "node_modules", ".pytest_cache"}
    shutil.copytree(REPO, dest, ignore=lambda folder, names: [n for n in names if n in skip])
    return dest


def test_a_separator_added_in_a_copy_validates_plans_and_separates(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path / "repo")
    touched = extending_separator.add_dummy(root)
    assert sorted(Path(p).resolve().relative_to(root.resolve()).as_posix() for p in touched) == [
        "src/mixrep/separation/dummy.py", "src/mixrep/separation/separators.py"]
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1"}
    smoke = subprocess.run([sys.executable, "-c", extending_separator.SMOKE], cwd=root, env=env,
                           capture_output=True, text=True, timeout=300)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr

    overlay = tmp_path / "dummy.yaml"
    overlay.write_text(yaml.safe_dump(extending_separator.OVERLAY))
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "2", "-s", str(root / "Snakefile"),
                          "--directory", str(tmp_path / "work"), "--configfile", str(root / "tests/config.test.yaml"),
                          str(overlay)], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out[-3000:]
    assert "train_separator" not in out  # no checkpoint to train: the registry says so, no rule edit
    settings = [json.loads(line.split("--settings ", 1)[1].split(" >", 1)[0].strip("'"))
                for line in out.splitlines() if "mixrep eval-separation" in line and "--settings" in line]
    assert settings and settings[0]["separation"]["method"] == "dummy"
    assert settings[0]["separation"]["dummy"] == {"gain": 0.25}


def test_the_commands_refuse_keys_that_left_the_config() -> None:
    from mixrep.errors import InputError
    from mixrep.separation.cli import _section

    with pytest.raises(InputError, match=r"separation: unknown keys \['threads'\]"):
        _section({"separation": {"method": "scnet", "threads": 2}})
    section = _section({"seed": 4, "separation": {"method": "oracle"}})
    assert section["stem_format"] == "flac24" and section["checkpoint_model"] == "small" and section["seed"] == 4


def test_the_docs_table_lists_every_separator_as_registered() -> None:
    text = (REPO / "docs" / "separation.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and cells[0].strip("`") in SEPARATORS:
            rows[cells[0].strip("`")] = cells
    assert list(rows) == list(SEPARATORS.names())
    for name, (_, checkpoint, trained, _, sections) in rows.items():
        kind = SEPARATORS.get(name)
        assert checkpoint.startswith("yes") is kind.checkpoint, name
        assert trained.startswith("yes") is (kind.train is not None), name
        listed = {part.strip().strip("`") for part in sections.split(",")} - {"—"}
        assert listed == set(kind.sections), name


@pytest.mark.parametrize("section,key", [
    ({"train": {"steps": 0}}, "separation.train.steps"),
    ({"inference": {"overlap": 1.0}}, "separation.inference.overlap"),
    ({"model": {"nfft": 8}}, "separation.model.nfft"),
    ({"train": {"loss": "l2"}}, "separation.train.loss"),
    ({"inference": {"device": "cpu"}}, "separation.inference"),  # a runtime setting: the rule's resources.device
])
def test_the_schema_checks_the_dataclass_sections(section: dict, key: str) -> None:
    from mixrep.workflow_config import ConfigError

    with pytest.raises(ConfigError) as caught:
        validated({"separation": section})
    assert caught.value.line().startswith(f"config error: {key}"), caught.value.line()
