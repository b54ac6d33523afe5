"""Package: stimuli aligned in loudness, length and channels; webMUSHRA YAML structure; severity picking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mixrep.audio import probe, read_audio, write_audio, write_stems
from mixrep.mushra.cli import package_main
from mixrep.mushra.package import PackageSettings, mushra_page, pick_by_severity
from mixrep.signal.loudness import integrated_lufs

SR = 44100


def _write_inputs(tmp_path: Path, seconds: float = 3.0) -> list[str]:
    rng = np.random.default_rng(0)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    stems = np.stack([(0.05 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(n))[None].repeat(2, 0)
                      for f in (330.0, 60.0, 4000.0, 800.0)]).astype(np.float32)
    write_stems(tmp_path / "stems" / "syn-jazz-0", stems)
    write_audio(tmp_path / "mix" / "syn-jazz-0.wav", stems.sum(axis=0))
    transferred = stems * np.array([2.0, 0.5, 1.0, 3.0], dtype=np.float32)[:, None, None]
    write_stems(tmp_path / "transfer" / "p1" / "stems", transferred)
    pd.DataFrame([{"pair": "p1", "source": "syn-jazz-0", "target": "syn-pop-0", "method": m}
                  for m in ("none", "loudness_match", "transfer")]).to_csv(tmp_path / "transfer" / "summary.csv")
    pd.DataFrame([{"track_id": "syn-jazz-0", "path": str(tmp_path / "mix" / "syn-jazz-0.wav"), "status": "ok"}]
                 ).to_parquet(tmp_path / "manifest.parquet")
    pd.DataFrame([{"track_id": "syn-jazz-0", "stem_dir": str(tmp_path / "stems" / "syn-jazz-0")}]
                 ).to_parquet(tmp_path / "index.parquet")
    recipes = [{"track_id": "syn-jazz-0", "variant_id": 0, "severity": 0.0, "effects": "[]"}]
    for v, g in enumerate((1.0, 3.0, 6.0, 9.0, 12.0), start=1):
        effects = [{"stem": "drums", "effect": "gain", "params": {"gain_db": g}},
                   {"stem": "bass", "effect": "eq_peak", "params": {"freq_hz": 100.0, "gain_db": -g, "q": 1.0}}]
        recipes.append({"track_id": "syn-jazz-0", "variant_id": v, "severity": g / 12, "effects": json.dumps(effects)})
    pd.DataFrame(recipes).to_parquet(tmp_path / "recipes.parquet")
    return ["--transfer-summary", str(tmp_path / "transfer" / "summary.csv"), "--manifest",
            str(tmp_path / "manifest.parquet"), "--stems-index", str(tmp_path / "index.parquet"),
            "--recipes", str(tmp_path / "recipes.parquet"), "--out-dir", str(tmp_path / "package")]


def test_package_stimuli_are_aligned_and_config_is_webmushra(tmp_path: Path) -> None:
    args = _write_inputs(tmp_path)
    settings = {"mushra": {"excerpt_s": 2.0, "degraded_levels": 3, "loudness_lufs": -23.0, "items_per_group": 2}}
    assert package_main(args + ["--settings", json.dumps(settings)]) == 0
    package = tmp_path / "package"
    config = yaml.safe_load((package / "configs" / "mixrep.yaml").read_text())
    for key in ("testname", "testId", "bufferSize", "stopOnErrors", "showButtonPreviousPage", "remoteService"):
        assert key in config
    assert config["remoteService"] == "service/write.php"
    pages = config["pages"]
    assert pages[0]["type"] == "generic" and pages[-1]["type"] == "finish"
    assert pages[-1]["questionnaire"] and pages[-1]["writeResults"] is True
    group = pages[1]
    assert isinstance(group, list) and group[0] == "random"
    page = group[1]
    assert page["type"] == "mushra" and page["createAnchor35"] is False and page["createAnchor70"] is False
    for key in ("id", "name", "content", "showWaveform", "enableLooping", "reference", "stimuli"):
        assert key in page
    assert page["strict"] is True  # 2 s excerpts
    assert set(page["stimuli"]) == {"source", "transfer", "degraded_1", "degraded_2", "degraded_3",
                                    "anchor35", "anchor70"}
    paths = [page["reference"], *page["stimuli"].values()]
    infos = [probe(package / p) for p in paths]
    assert {(i.frames, i.channels, i.sample_rate) for i in infos} == {(2 * SR, 2, SR)}
    levels = [integrated_lufs(read_audio(package / p)[0], SR) for p in paths]
    assert max(levels) - min(levels) < 0.1
    assert levels[0] == pytest.approx(-23.0, abs=0.1)
    table = pd.read_parquet(package / "stimuli.parquet")
    assert len(table) == 8 and set(table["trial_id"]) == {page["id"]}
    degraded = table[table["condition"].str.startswith("degraded")].sort_values("condition")
    assert degraded["severity"].is_monotonic_increasing
    assert "webMUSHRA" in (package / "README.md").read_text()


def test_long_excerpts_are_not_strict() -> None:
    page = mushra_page("t1", "Item", "stimuli/a/reference.wav", {"source": "stimuli/a/source.wav"},
                       PackageSettings(excerpt_s=12.5))
    assert page["strict"] is False
    assert mushra_page("t1", "Item", "r.wav", {}, PackageSettings(excerpt_s=12.0))["strict"] is True


def test_pick_by_severity_spans_the_range() -> None:
    recipes = pd.DataFrame({"variant_id": range(11), "severity": [0.0, *np.linspace(0.1, 1.0, 10)]})
    picked = pick_by_severity(recipes, 3)
    assert picked["variant_id"].tolist() == [3, 5, 8]  # positions round(q * 9) for q = 1/4, 1/2, 3/4
    assert picked["severity"].is_monotonic_increasing and 0 not in picked["variant_id"].tolist()
