"""Separated stems stored as 24-bit FLAC (separation.stem_format: flac24): round trip, levels beyond +-1, readers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mixrep.audio import STEM_GAINS_FILE, flac24_gain, read_stems, write_stems
from mixrep.separation.apply import ApplySettings
from mixrep.separation.separate import separate_shard
from mixrep.stems import STEMS, stem_paths

BOUND = 2.0 ** -23


def _stems(peaks: tuple[float, ...], seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """Noise + a tone per stem, each scaled to its peak (reached exactly on one sample)."""
    rng = np.random.default_rng(seed)
    n = int(44100 * seconds)
    t = np.arange(n) / 44100
    stems = np.stack([np.stack([0.5 * np.sin(2 * np.pi * 220 * (k + 1) * t) + 0.5 * rng.uniform(-1, 1, n)
                                for _ in range(2)]) for k in range(len(STEMS))])
    stems /= np.abs(stems).max(axis=(1, 2), keepdims=True)
    return (stems * np.asarray(peaks)[:, None, None]).astype(np.float32)


@pytest.mark.parametrize("peaks", [(0.99, 0.5, 0.25, 0.999999), (1e-3, 0.3, 0.07, 0.9)])
def test_flac24_round_trip_within_24_bit_quantisation(tmp_path, peaks):
    stems = _stems(peaks)
    write_stems(tmp_path, stems, stem_format="flac24")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(f"{s}.flac" for s in STEMS), STEM_GAINS_FILE])
    back = read_stems(tmp_path)
    assert back.dtype == np.float32 and back.shape == stems.shape
    for k, peak in enumerate(peaks):
        error = float(np.max(np.abs(back[k].astype(np.float64) - stems[k])))
        assert error <= BOUND * peak, (STEMS[k], error / (BOUND * peak))
        assert error > 0 or peak == 0  # really quantised: FLAC-24 is not float


def test_stems_beyond_full_scale_are_stored_scaled_not_clipped(tmp_path):
    peaks = (1.0, 1.7, 3.2, 0.4)  # a separator's stems exceed +-1 where the mixture is near full scale
    stems = _stems(peaks, seed=1)
    write_stems(tmp_path, stems, stem_format="flac24")
    gains = json.loads((tmp_path / STEM_GAINS_FILE).read_text())
    assert gains == {"vocals": 2.0, "bass": 2.0, "drums": 4.0, "other": 0.5}
    back = read_stems(tmp_path)
    for k, peak in enumerate(peaks):
        assert float(np.max(np.abs(back[k]))) == pytest.approx(peak, rel=BOUND)  # the peak survives: no clipping
        assert float(np.max(np.abs(back[k].astype(np.float64) - stems[k]))) <= BOUND * peak


def test_gain_is_a_power_of_two_just_above_the_peak():
    for peak in (1e-4, 0.3, 0.5, 0.999, 1.0, 1.0001, 7.9):
        gain = flac24_gain(np.array([[peak, -peak / 3]]))
        assert np.log2(gain) == int(np.log2(gain))
        assert peak / gain <= 1 - BOUND and peak / gain > 0.25
    assert flac24_gain(np.zeros((2, 10))) == 1.0


def test_float32_stays_exact_and_replaces_flac(tmp_path):
    stems = _stems((2.5, 0.5, 0.1, 1.0))
    write_stems(tmp_path, stems, stem_format="flac24")
    write_stems(tmp_path, stems, stem_format="float32")  # a rerun in the other format leaves one format behind
    assert not list(tmp_path.glob("*.flac")) and not (tmp_path / STEM_GAINS_FILE).exists()
    assert np.array_equal(read_stems(tmp_path), stems)
    assert all(path.suffix == ".wav" for name, path in stem_paths(tmp_path).items() if name != "mixture")


def test_stem_paths_finds_flac(tmp_path):
    write_stems(tmp_path, _stems((0.5,) * 4), stem_format="flac24")
    paths = stem_paths(tmp_path)
    assert {paths[name].suffix for name in STEMS} == {".flac"} and all(paths[name].is_file() for name in STEMS)
    assert paths["mixture"].suffix == ".wav"  # absent files keep the default extension


def test_separate_shard_writes_the_configured_format(tmp_path, monkeypatch):
    """The oracle path of the separation stage: FLAC-24 by default, float WAV on request, index unchanged."""
    truth = tmp_path / "truth"
    stems = _stems((1.3, 0.6, 0.8, 0.2))
    write_stems(truth, stems)
    manifest = pd.DataFrame([{"track_id": "t1", "path": str(truth / "mixture.wav"), "stems_dir": str(truth)}])
    monkeypatch.chdir(tmp_path)
    for stem_format, suffix in (("flac24", ".flac"), ("float32", ".wav")):
        out = tmp_path / stem_format
        index = separate_shard(manifest, ["t1"], out, "oracle", None, ApplySettings(), stem_format=stem_format)
        assert list(index["status"]) == ["ok"] and int(index["num_samples"].iloc[0]) == stems.shape[-1]
        folder = tmp_path / index["stem_dir"].iloc[0]
        assert {p.suffix for p in folder.iterdir() if p.name != STEM_GAINS_FILE} == {suffix}
        assert float(np.max(np.abs(read_stems(folder) - stems))) <= BOUND * 1.3
    with pytest.raises(ValueError, match="stem_format"):
        separate_shard(manifest, ["t1"], tmp_path / "x", "oracle", None, ApplySettings(), stem_format="mp3")


def test_flac24_bytes_are_reproducible(tmp_path):
    """The same stems give the same files (stable hashes, no timestamps), as float WAV does."""
    import time

    stems = _stems((1.4, 0.5, 0.01, 0.9), seconds=0.1)
    write_stems(tmp_path / "a", stems, stem_format="flac24")
    time.sleep(1.1)
    write_stems(tmp_path / "b", stems, stem_format="flac24")
    for name in (*(f"{s}.flac" for s in STEMS), STEM_GAINS_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
