"""Config mistakes end in one short line naming key, value and what is allowed; external files are rule inputs.

Unit tests of mixrep.workflow_config, then `snakemake -n` on the tiny config in tmp folders (a few seconds
each), then `mixrep corpus --out` on a path it cannot write.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mixrep import workflow_config as wc
from mixrep.cli import main as mixrep_main

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
TINY = REPO / "tests" / "config.test.yaml"


def merged(override: dict) -> dict:
    """config.yaml with `override` merged over it, as Snakemake merges a --configfile."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())

    def merge(base: dict, extra: dict) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = copy.deepcopy(value)

    merge(config, override)
    return config


# ---------------------------------------------------------------- schema errors, one line each
def test_the_default_config_validates_and_gets_the_schema_defaults():
    config = merged({})
    del config["seed"], config["tsne"]
    wc.validate_config(config, SCHEMA)
    assert config["seed"] == 0  # a top-level default of config.schema.yaml
    # a section left out is filled with its schema defaults, nested ones too (mixrep.schema inlines sections)
    assert config["tsne"]["perplexity"] == 30 and config["tsne"]["splits"] == ["val", "test"]
    wc.check_config(config)


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ({"shard_size": "ten"}, "config error: shard_size: 'ten': must be of type integer"),
        ({"ablation": {"conditioning": ["film", "gru"]}},
         "config error: ablation.conditioning[1]: 'gru': must be one of film, prepend, xattn"),
        ({"seed": -1}, "config error: seed: -1: must be >= 0"),
        ({"separation": {"method": "demucs"}}, "config error: separation.method: 'demucs': must be one of scnet, oracle"),
        ({"degrade": {"gain_db": [1.0]}}, "config error: degrade.gain_db: [1.0]: needs at least 2 item(s)"),
    ],
)
def test_a_schema_error_is_one_line_with_key_value_and_what_is_allowed(override, line):
    with pytest.raises(wc.ConfigError) as caught:
        wc.validate_config(merged(override), SCHEMA)
    assert caught.value.line() == line


def test_an_unknown_key_is_named_with_the_keys_its_section_takes():
    with pytest.raises(wc.ConfigError) as caught:
        wc.validate_config(merged({"dataset": {"sourcee": "synthetic"}}), SCHEMA)
    line = caught.value.line()
    assert line.startswith("config error: dataset.sourcee: 'synthetic': unknown key; dataset takes: ")
    assert "source, split_fractions" in line and "\n" not in line


def test_an_unknown_top_level_section_is_named():
    with pytest.raises(wc.ConfigError) as caught:
        wc.validate_config(merged({"no_such_section": 1}), SCHEMA)
    assert caught.value.line().startswith("config error: no_such_section: 1: unknown key; the top level takes: ablation,")


def test_a_long_value_is_cut_so_that_the_message_stays_one_line():
    error = wc.ConfigError("k", "x" * 500, "too long")
    assert len(error.line()) < 120 and error.line().endswith("...: too long")


# ---------------------------------------------------------------- cross-field checks
def test_default_run_must_be_a_cell_and_the_message_lists_the_configured_cells():
    config = merged({"ablation": {"conditioning": ["film"], "families": ["all"], "positives": ["same_variant"],
                                  "default_run": "film-bogus"}})
    with pytest.raises(wc.ConfigError) as caught:
        wc.check_config(config)
    line = caught.value.line()
    assert line.startswith("config error: ablation.default_run: 'film-bogus': not a cell; "
                           "cells of this config: none, film-all; ")
    assert "conditioning film|prepend|xattn" in line


def test_ratings_csv_is_required_with_the_csv_source():
    with pytest.raises(wc.ConfigError) as caught:
        wc.check_config(merged({"ratings": {"source": "csv", "csv": None}}))
    assert caught.value.line().startswith("config error: ratings.csv: None: required with ratings.source: csv")


@pytest.mark.parametrize(
    ("override", "key", "name"),
    [
        ({"separation": {"checkpoint": "weights/scnet.th"}}, "separation.checkpoint", "checkpoint"),
        ({"ratings": {"source": "csv", "csv": "ratings.csv"}}, "ratings.csv", "ratings_csv"),
        ({"mushra": {"results_csv": "mushra.csv"}}, "mushra.results_csv", "mushra_results"),
        ({"synthetic": {"soundfont": "gm.sf2"}}, "synthetic.soundfont", "soundfont"),
        ({"dataset": {"source": "folder", "root": "data", "genre_csv": "genres.csv"},
          "separation": {"checkpoint": "given.th"}}, "dataset.genre_csv", "genre_csv"),
    ],
)
def test_a_configured_file_must_exist_and_is_then_an_input(tmp_path, override, key, name):
    (tmp_path / "data").mkdir()
    (tmp_path / "given.th").write_text("x")  # a folder source needs a given separator (checked first)
    config = merged(override)
    path = wc.external_files(config)[name].path
    with pytest.raises(wc.ConfigError) as caught:
        wc.check_config(config, cwd=tmp_path)
    assert caught.value.line().startswith(f"config error: {key}: {path!r}: no such file (")
    assert str(tmp_path) in caught.value.line()
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text("x")
    wc.check_config(config, cwd=tmp_path)
    assert wc.external_inputs(config, name) == [path]


def test_a_file_of_an_option_not_in_use_is_neither_checked_nor_an_input(tmp_path):
    config = merged({"separation": {"method": "oracle", "checkpoint": "gone.th"},
                     "ratings": {"source": "synthetic", "csv": "gone.csv"}})
    wc.check_config(config, cwd=tmp_path)
    assert wc.external_inputs(config, "checkpoint", "ratings_csv") == []


def test_fma_needs_its_root_and_tracks_csv_and_reads_genres_csv_when_present(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sep.th").write_text("x")
    config = merged({"dataset": {"source": "fma", "root": "fma"}, "separation": {"checkpoint": "sep.th"}})
    with pytest.raises(wc.ConfigError) as caught:
        wc.check_config(config)
    assert caught.value.line().startswith("config error: dataset.root: 'fma': no such directory")
    (tmp_path / "fma" / "fma_metadata").mkdir(parents=True)
    with pytest.raises(wc.ConfigError) as caught:
        wc.check_config(config)
    assert caught.value.line() == ("config error: dataset.root: 'fma': fma_metadata/tracks.csv not found in it "
                                   "(FMA metadata)")
    (tmp_path / "fma/fma_metadata/tracks.csv").write_text("x")
    wc.check_config(config)
    assert wc.external_inputs(config, "fma_tracks", "fma_genres") == ["fma/fma_metadata/tracks.csv"]
    (tmp_path / "fma/fma_metadata/genres.csv").write_text("x")
    assert wc.external_inputs(config, "fma_tracks", "fma_genres") == ["fma/fma_metadata/tracks.csv",
                                                                      "fma/fma_metadata/genres.csv"]


@pytest.mark.parametrize("source", ["fma", "folder"])
def test_a_source_without_true_stems_needs_a_given_separator(tmp_path, monkeypatch, source):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "fma_metadata").mkdir(parents=True)
    (tmp_path / "data/fma_metadata/tracks.csv").write_text("x")
    base = {"dataset": {"source": source, "root": "data"}}
    with pytest.raises(wc.ConfigError) as caught:
        wc.check_config(merged({**base, "separation": {"method": "scnet", "checkpoint": None}}))
    assert caught.value.line().startswith(f"config error: separation.checkpoint: None: required with "
                                          f"dataset.source: {source}")
    with pytest.raises(wc.ConfigError) as caught:
        wc.check_config(merged({**base, "separation": {"method": "oracle"}}))
    assert caught.value.line().startswith("config error: separation.method: 'oracle': the oracle separator needs true stems")
    (tmp_path / "sep.th").write_text("x")
    wc.check_config(merged({**base, "separation": {"method": "scnet", "checkpoint": "sep.th"}}))
    wc.check_config(merged({"separation": {"method": "oracle"}}))  # the synthetic corpus has true stems


def test_check_or_stop_prints_one_line_and_exits_1(capsys):
    with pytest.raises(SystemExit) as caught:
        wc.check_or_stop(merged({"shard_size": 0}), SCHEMA)
    assert caught.value.code == 1
    assert capsys.readouterr().err == "config error: shard_size: 0: must be >= 1\n"


# ---------------------------------------------------------------- the catch-all rule's wildcard
def test_the_unknown_cell_pattern_matches_only_what_is_no_cell():
    pattern = re.compile(wc.unknown_cell_pattern())
    for good in (*wc.cell_names(), "random-init"):
        assert pattern.match(good + "/metrics.json") is None, good
    for bad in ("film-bogus", "film", "film-all2", "FILM-ALL"):
        assert pattern.match(bad + "/metrics.json").group(0) == bad


# ---------------------------------------------------------------- snakemake -n as a user runs it
def snakemake(args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180)


def own_lines(result: subprocess.CompletedProcess) -> list[str]:
    """What the user reads besides Snakemake's banner: the lines after `Building DAG of jobs...` if any."""
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if "Building DAG of jobs..." in lines:
        lines = lines[lines.index("Building DAG of jobs...") + 1:]
    return lines


@pytest.mark.parametrize(
    ("override", "start"),
    [
        ("ablation:\n  default_run: film-bogus\n", "config error: ablation.default_run: 'film-bogus': not a cell; "
                                                   "cells of this config: none, film-all, none-recipe, "
                                                   "film-all-recipe;"),
        ("ratings:\n  source: csv\n", "config error: ratings.csv: None: required with ratings.source: csv"),
        ("dataset:\n  sourcee: synthetic\n", "config error: dataset.sourcee: 'synthetic': unknown key; dataset takes:"),
        ("separation:\n  checkpoint: nowhere/scnet.th\n",
         "config error: separation.checkpoint: 'nowhere/scnet.th': no such file (separator checkpoint;"),
    ],
)
def test_dry_run_stops_on_a_config_mistake_in_at_most_five_lines(tmp_path, override, start):
    bad = tmp_path / "bad.yaml"
    bad.write_text(override)
    result = snakemake(["-n", "--configfile", str(TINY), str(bad)], tmp_path)
    assert result.returncode == 1, result.stderr
    lines = own_lines(result)
    assert len(lines) <= 5, lines
    assert any(line.startswith(start) for line in lines), lines
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr


TINY_CELLS = ["none", "film-all", "none-recipe", "film-all-recipe"]


@pytest.mark.parametrize("target", ["results/regress/film-bogus/metrics.json",
                                    "results/evaluate/film-bogus/units.parquet",
                                    "results/pretrain/film-bogus/seed0/encoder.pt"])
def test_a_target_of_an_unknown_cell_names_the_valid_cells(tmp_path, target):
    result = snakemake([target, "-n", "--configfile", str(TINY)], tmp_path)
    assert result.returncode == 1
    assert own_lines(result) == [f"target error: {target}: 'film-bogus': not a cell; {wc.cell_rule(TINY_CELLS)}"]


def fake_separated_state(workdir: Path) -> Path:
    """A workdir where checkpoint, manifest, shard-000's stems and their evaluation exist, oldest first (no real run)."""
    checkpoint = workdir / "weights" / "scnet.th"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text("weights")
    results = workdir / "results"
    now = checkpoint.stat().st_mtime
    os.utime(checkpoint, (now - 400, now - 400))
    for age, relative, text in ((300, "corpus/metadata.parquet", ""), (200, "manifest/manifest.parquet", ""),
                                (200, "manifest/summary.txt", ""), (200, "manifest/shards.json", '{"shard-000": ["t"]}'),
                                (100, "stems/shard-000/index.parquet", ""), (50, "separation/eval.json", "{}"),
                                (50, "separation/eval.md", "")):
        (results / relative).parent.mkdir(parents=True, exist_ok=True)
        (results / relative).write_text(text)
        os.utime(results / relative, (now - age, now - age))
    (workdir / "checkpoint.yaml").write_text("separation:\n  checkpoint: weights/scnet.th\n")
    return checkpoint


def planned_rules(result: subprocess.CompletedProcess) -> dict[str, int]:
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", result.stdout + result.stderr,
                                                             flags=re.M) if rule != "total"}


def test_an_edited_checkpoint_replans_separation_and_a_removed_one_stops_the_dag(tmp_path):
    checkpoint = fake_separated_state(tmp_path)
    args = ["results/separation/eval.json", "-n", "--quiet", "rules", "--configfile", str(TINY),
            str(tmp_path / "checkpoint.yaml")]
    before = snakemake(args, tmp_path)
    assert before.returncode == 0, before.stderr
    assert planned_rules(before) == {} and "Nothing to be done" in before.stdout + before.stderr, before.stderr
    os.utime(checkpoint)  # now newer than the separated stems: they and their evaluation are out of date
    after = snakemake(args, tmp_path)
    assert after.returncode == 0, after.stderr
    assert planned_rules(after) == {"separate": 1, "eval_separation": 1}, after.stdout + after.stderr
    checkpoint.unlink()
    gone = snakemake(args, tmp_path)
    assert gone.returncode == 1 and len(own_lines(gone)) <= 2, own_lines(gone)
    assert own_lines(gone)[-1:] == [f"config error: separation.checkpoint: 'weights/scnet.th': no such file "
                               f"(separator checkpoint; relative paths are read from {tmp_path})"]


@pytest.mark.parametrize(
    ("override", "target", "rule", "path"),
    [
        ("dataset: {source: folder, root: data, genre_csv: meta/genres.csv}\nseparation: {checkpoint: given.th}\n",
         "results/manifest/manifest.parquet", "manifest", "meta/genres.csv"),
        ("synthetic: {soundfont: meta/gm.sf2}\n", "results/corpus/metadata.parquet", "corpus", "meta/gm.sf2"),
        ("ratings: {source: csv, csv: meta/ratings.csv}\n", "results/ratings/ratings.parquet", "ratings",
         "meta/ratings.csv"),
        ("mushra: {results_csv: meta/mushra.csv}\n", "results/mushra/analysis/summary.json", "mushra_analysis",
         "meta/mushra.csv"),
    ],
)
def test_a_configured_file_is_an_input_of_the_rule_that_reads_it(tmp_path, override, target, rule, path):
    (tmp_path / "data").mkdir()
    (tmp_path / "given.th").write_text("x")  # a folder source needs a given separator
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text("x")
    (tmp_path / "files.yaml").write_text(override)
    result = snakemake([target, "-n", "--configfile", str(TINY), str(tmp_path / "files.yaml")], tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = re.findall(r"^(?:rule|checkpoint) (\w+):\n((?:    .*\n)+)", result.stdout + result.stderr, flags=re.M)
    inputs = {name: re.search(r"^    input: (.*)$", body, flags=re.M) for name, body in jobs}
    assert inputs.get(rule) and path in inputs[rule].group(1).split(", "), jobs


# ---------------------------------------------------------------- mixrep corpus --out
@pytest.mark.parametrize(("out", "problem"), [("a_file", "exists and is not a folder"),
                                             ("a_file/corpus", "cannot create the folder: a parent is a file")])
def test_corpus_out_that_cannot_be_a_folder_is_one_line(tmp_path, capsys, out, problem):
    (tmp_path / "a_file").write_text("not a folder")
    target = str(tmp_path / out)
    code = mixrep_main(["corpus", "--out", target, "--settings", "{}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"mixrep corpus: {target}: {problem}"]


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path, capsys):
    broken = tmp_path / "config.yaml"
    broken.write_text("seed: 0\ndataset:\n  source: [synthetic\n  root: null\n")
    error = wc.yaml_syntax_error(broken)
    assert error is not None and error.key.startswith(f"{broken}:") and "YAML syntax" in error.allowed
    line = int(error.key.split(":")[-2])
    assert 3 <= line <= 5
    with pytest.raises(SystemExit):
        wc.stop_on_yaml_syntax(broken)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"config error: {broken}:")
    assert wc.yaml_syntax_error(REPO / "config.yaml") is None


def test_a_broken_config_yaml_stops_the_dry_run_in_one_line(tmp_path):
    import shutil

    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for name in ("workflow", "src"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text() + "\nbroken: [\n")
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--snakefile", str(tmp_path / "Snakefile"),
                             "--directory", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.startswith("config error")]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"config error: {tmp_path / 'config.yaml'}:"), lines


@pytest.mark.parametrize("override, line", [
    ({"eq_peak": {"freq_hz": [8000, 100]}}, "config error: degrade.eq_peak.freq_hz: [8000, 100]: low 8000.0 > high 100.0"),
    ({"gain_db": [9, 1]}, "config error: degrade.gain_db: [9, 1]: low 9.0 > high 1.0"),
    ({"bandwidth": {"highpass_hz": [0, 100]}}, "config error: degrade.bandwidth.highpass_hz: [0, 100]: needs positive"),
])
def test_a_fault_range_the_schema_cannot_check_stops_at_validation(override, line):
    """Registry sections come from dataclasses (no minimum/ordering in their schema): check_config builds them."""
    config = merged({"degrade": override})
    wc.validate_config(config, SCHEMA)
    with pytest.raises(wc.ConfigError) as error:
        wc.check_config(config)
    assert error.value.line().startswith(line)
