"""Degraded remixes: recipes, every fault's effect on the audio, rendering, severity, headroom, the CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.signal import welch

from mixrep.audio import read_stems, write_stems
from mixrep.degrade import (FAULTS, DegradeSettings, iter_variants, mix, render_chain, render_variant,
                            sample_recipe)
from mixrep.degrade.cli import main as degrade_main
from mixrep.degrade.faults import make_effect
from mixrep.degrade.faults.bandwidth import Highpass, Lowpass
from mixrep.degrade.faults.dynamics import Compress, Expand
from mixrep.degrade.faults.eq import EqPeak
from mixrep.degrade.faults.gain import Gain
from mixrep.degrade.faults.reverb import Reverb
from mixrep.degrade.faults.stereo import Pan, Width
from mixrep.degrade.faults.tilt import Tilt
from mixrep.degrade.filters import tilt_response_db
from mixrep.degrade.recipes import EffectSpec, variant_seed
from mixrep.degrade.severity import SeverityMeter
from mixrep.degrade.shard import RECIPE_COLUMNS, degrade_track
from mixrep.stems import STEMS, track_dirname

SR = 44100


def _noise(seconds: float, seed: int, scale: float = 0.05, channels: int = 2) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, int(seconds * SR))) * scale).astype(np.float32)


def _bursts(seconds: float, seed: int) -> np.ndarray:
    """Noise in decaying bursts every 250 ms: a signal with dynamics for the compressor and expander."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    envelope = np.exp(-(t % 0.25) / 0.04) + 0.02
    return (_noise(seconds, seed, 0.3) * envelope).astype(np.float32)


def _stems(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """Four decorrelated stereo stems (4, 2, N) with some dynamics and some stereo spread."""
    stems = np.stack([_bursts(seconds, seed + k) * (0.5 + 0.2 * k) for k in range(4)])
    stems[:, 1] = 0.7 * stems[:, 1] + 0.3 * stems[:, 0]
    return stems.astype(np.float32)


def _db(power: float) -> float:
    return float(10 * np.log10(power))


def _rms_db(x: np.ndarray) -> float:
    return _db(np.mean(np.square(x, dtype=np.float64)))


def _crest_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.max(np.abs(x)))) - _rms_db(x)


def _response_db(effect, freqs_hz) -> np.ndarray:
    """Magnitude response (dB) of an effect at `freqs_hz`, from its impulse response (1 s, 1 Hz bins).

    The impulse sits 250 ms in, so a zero-phase (non-causal) filter keeps its whole response."""
    impulse = np.zeros((2, SR), dtype=np.float32)
    impulse[:, SR // 4] = 1.0
    h = effect.apply(impulse, SR)[0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(h))
    return 20 * np.log10(spectrum[np.round(np.asarray(freqs_hz)).astype(int)] + 1e-300)


def _one_fault_config(name: str) -> DegradeSettings:
    return DegradeSettings(faults=(name,), min_faults=1, max_faults=1)


# ------------------------------------------------------------------------------------------------ recipes
def test_recipe_is_a_pure_function_of_seed_track_and_variant():
    config = DegradeSettings()
    first = [sample_recipe("syn-rock-3", v, config, seed=7) for v in range(9)]
    again = [sample_recipe("syn-rock-3", v, config, seed=7) for v in reversed(range(9))][::-1]
    assert [r.effects_json() for r in first] == [r.effects_json() for r in again]
    assert first[0].effects == () and first[0].fault_types == "none"
    assert len({r.effects_json() for r in first[1:]}) == 8  # variants differ
    other_seed = sample_recipe("syn-rock-3", 1, config, seed=8)
    other_track = sample_recipe("syn-rock-4", 1, config, seed=7)
    assert other_seed.seed != first[1].seed and other_track.seed != first[1].seed


def test_variant_seed_is_stable_across_processes():
    """Python's hash() is salted per process; the recipe seed must not be."""
    code = "from mixrep.degrade import variant_seed; print(variant_seed(3, 'folder/a b.wav', 5))"
    # another process with a fixed string-hash salt (this one's salt is random) draws the same seed
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert int(result.stdout) == variant_seed(3, "folder/a b.wav", 5)
    assert 0 <= variant_seed(3, "folder/a b.wav", 5) < 2 ** 63


def test_recipe_parameters_stay_in_their_config_ranges():
    config = DegradeSettings.from_config({"gain_db": [2.0, 4.0], "eq_peak": {"freq_hz": [200, 400]},
                                      "bandwidth": {"order": 6, "lowpass_hz": [3000, 5000]},
                                      "recipe_pool": 300})  # 300 distinct pool recipes drawn below
    counts = {name: 0 for name in FAULTS.names()}
    for v in range(1, 301):
        recipe = sample_recipe(f"t{v % 7}", v, config, seed=1)
        names = [spec.effect.name for spec in recipe.effects]
        assert config.min_faults <= len(names) <= config.max_faults
        assert len(set(names)) == len(names)
        assert recipe.fault_types == ",".join(names)
        for spec in recipe.effects:
            assert spec.stem in STEMS
            effect = spec.effect
            counts[effect.name] += 1
            if isinstance(effect, Gain):
                assert 2.0 <= abs(effect.gain_db) <= 4.0
            elif type(effect) is EqPeak:
                assert 200 <= effect.freq_hz <= 400 and 3 <= abs(effect.gain_db) <= 12 and 0.5 <= effect.q <= 4
            elif isinstance(effect, Lowpass):
                assert 3000 <= effect.cutoff_hz <= 5000 and effect.order == 6
            elif isinstance(effect, Highpass):
                assert 80 <= effect.cutoff_hz <= 800
            elif isinstance(effect, Tilt):
                assert 0.5 <= abs(effect.db_per_octave) <= 3.0
            elif isinstance(effect, Compress):
                assert -24 <= effect.threshold_rel_db <= -6 and 2 <= effect.ratio <= 10
                assert effect.threshold_db is None  # resolved against the audio when rendered
            elif isinstance(effect, Pan):
                assert 0.1 <= abs(effect.position) <= 0.7
            elif isinstance(effect, Width):
                assert 0.0 <= effect.width <= 0.7 or 1.4 <= effect.width <= 2.5
            elif isinstance(effect, Reverb):
                assert 0.05 <= effect.wet_level <= 0.5
    assert all(count > 0 for count in counts.values()), counts
    # gains are drawn with both signs
    gains = [s.effect.gain_db for v in range(1, 301) for s in sample_recipe("x", v, config, 1).effects
             if s.effect.name == "gain"]
    assert min(gains) < 0 < max(gains)


def test_config_rejects_unknown_keys_and_bad_ranges(repo_root):
    with pytest.raises(ValueError, match="unknown keys.*colour"):
        DegradeSettings.from_config({"colour": 1})
    with pytest.raises(ValueError, match="eq_peak.gain_db"):
        DegradeSettings.from_config({"eq_peak": {"gain_db": [12, 3]}})
    with pytest.raises(ValueError, match="unknown fault types"):
        DegradeSettings.from_config({"faults": ["gain", "flanger"]})
    with pytest.raises(ValueError, match="unknown effect"):
        make_effect("flanger", {})


def test_schema_defaults_match_the_dataclass_defaults(repo_root):
    """The degrade section as validated (YAML schema + the fault registry's patch) fills in DegradeSettings()."""
    from mixrep.config_schema import assembled_schema

    schema = assembled_schema(repo_root / "workflow/schemas/config.schema.yaml", modules=("mixrep.degrade.faults",))
    defaults = {}
    for key, spec in schema["properties"]["degrade"]["properties"].items():
        if spec.get("type") == "object":
            defaults[key] = {sub: value["default"] for sub, value in spec["properties"].items()}
        else:
            defaults[key] = spec["default"]
    assert DegradeSettings.from_config(defaults) == DegradeSettings()
    config_yaml = yaml.safe_load((repo_root / "config.yaml").read_text())["degrade"]
    assert DegradeSettings.from_config(config_yaml) == DegradeSettings()


# ------------------------------------------------------------------------------------------------ rendering
def test_variant_zero_is_the_plain_sum():
    stems = _stems()
    rendered = render_variant(stems, sample_recipe("a", 0).effects_json(), SR)
    assert rendered.dtype == np.float32 and rendered.shape == stems.shape
    assert np.array_equal(rendered, stems)
    assert np.array_equal(mix(rendered), stems.sum(axis=0, dtype=np.float32))


@pytest.mark.parametrize("name", FAULTS.names())
def test_rerendering_a_recipe_is_bit_identical(name):
    stems = _stems(0.5, seed=3)
    recipe = sample_recipe("track", 1, _one_fault_config(name), seed=0)
    first, resolved = render_chain(stems, recipe.effects_json(), SR)
    second = render_variant(stems, json.loads(recipe.effects_json()), SR)
    third = render_variant(stems, [spec.to_dict() for spec in resolved], SR)  # thresholds resolved
    assert first.dtype == np.float32 and first.shape == stems.shape
    assert np.array_equal(first, second) and np.array_equal(first, third)
    assert not np.array_equal(first, stems)
    touched = STEMS.index(recipe.effects[0].stem)
    untouched = [k for k in range(4) if k != touched]
    assert np.array_equal(first[untouched], stems[untouched])


def test_render_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(4, 2, N\)"):
        render_variant(np.zeros((2, 100), np.float32), [], SR)


# ------------------------------------------------------------------------------------------------ each fault
def test_gain_raises_the_stem_rms_by_its_db():
    stems = _stems()
    effects = [EffectSpec("bass", Gain(gain_db=6.0)).to_dict()]
    out = render_variant(stems, effects, SR)
    assert _rms_db(out[1]) - _rms_db(stems[1]) == pytest.approx(6.0, abs=1e-3)


def _butterworth_db(freqs_hz: np.ndarray, cutoff_hz: float, order: int, kind: str) -> np.ndarray:
    """The textbook magnitude of a digital (bilinear, pre-warped) Butterworth filter."""
    ratio = np.tan(np.pi * freqs_hz / SR) / np.tan(np.pi * cutoff_hz / SR)
    ratio = ratio if kind == "lowpass" else 1 / ratio
    return -10 * np.log10(1 + ratio ** (2 * order))


@pytest.mark.parametrize("order", [4, 8])
def test_butterworth_lowpass_and_highpass_are_minus_3db_at_cutoff_and_steep(order):
    freqs = np.array([50.0, 100.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0])
    slope = 6.02 * order  # dB per octave (= 20·order dB per decade) far from the cut-off
    for effect, kind, fc in ((Lowpass(cutoff_hz=2000.0, order=order), "lowpass", 2000.0),
                             (Highpass(cutoff_hz=500.0, order=order), "highpass", 500.0)):
        measured = _response_db(effect, freqs)
        expected = _butterworth_db(freqs, fc, order, kind)
        audible = expected > -120  # beyond that the float32 impulse response is at its noise floor
        assert np.allclose(measured[audible], expected[audible], atol=0.1)
        assert measured[freqs == fc][0] == pytest.approx(-3.01, abs=0.05)
        beyond = measured[freqs == (2 * fc if kind == "lowpass" else fc / 2)][0]
        further = measured[freqs == (4 * fc if kind == "lowpass" else fc / 4)][0]
        assert beyond <= -slope + 3.1  # one octave past the cut-off: order x 6 dB down (less the knee)
        assert beyond - further >= slope - 0.5  # and the next octave falls by at least order x 6 dB


@pytest.mark.parametrize("freq,gain,q", [(1000.0, 6.0, 1.0), (250.0, -12.0, 4.0), (6000.0, 9.0, 0.5)])
def test_peaking_eq_gain_at_its_centre(freq, gain, q):
    response = _response_db(EqPeak(freq_hz=freq, gain_db=gain, q=q), [freq, 20.0])
    assert response[0] == pytest.approx(gain, abs=0.5)
    assert abs(response[1]) < 0.5 or freq < 200


@pytest.mark.parametrize("slope", [-3.0, 1.5])
def test_tilt_slope_measured_on_white_noise(slope):
    noise = _noise(4.0, seed=11, scale=0.1)
    out = Tilt(db_per_octave=slope).apply(noise, SR)
    freqs, p_in = welch(noise.astype(np.float64), SR, nperseg=8192)
    _, p_out = welch(out.astype(np.float64), SR, nperseg=8192)
    band = (freqs >= 100) & (freqs <= 10000)
    change_db = 10 * np.log10(p_out.mean(axis=0)[band] / p_in.mean(axis=0)[band])
    fitted, at_pivot = np.polyfit(np.log2(freqs[band] / 1000.0), change_db, 1)
    assert fitted == pytest.approx(slope, abs=0.05)
    assert at_pivot == pytest.approx(0.0, abs=0.2)
    # the FIR meets the design within 0.1 dB from 40 Hz to 20 kHz, and the design is flat beyond its edges
    freqs = np.arange(40, 20001, 10)
    designed = tilt_response_db(freqs, slope, 1000.0, 20.0, 20000.0)
    assert np.abs(_response_db(Tilt(db_per_octave=slope), freqs) - designed).max() < 0.1
    assert np.ptp(tilt_response_db(np.array([5.0, 20.0]), slope, 1000.0, 20.0, 20000.0)) == 0


def _sections(seconds: float, seed: int, loud_fraction: float = 0.5, quiet: float = 0.05) -> np.ndarray:
    """Noise alternating loud and quiet sections (600 ms period, 20 ms ramps, starting quiet):
    dynamics slower than any attack time."""
    t = np.arange(int(seconds * SR)) / SR
    square = ((t % 0.6) >= 0.6 * (1 - loud_fraction)).astype(np.float64)
    ramp = np.ones(int(0.02 * SR)) / int(0.02 * SR)
    envelope = quiet + (1 - quiet) * np.convolve(square, ramp, mode="same")
    return (_noise(seconds, seed, 0.3) * envelope).astype(np.float32)


def test_compression_lowers_and_expansion_raises_the_crest_factor():
    signal = _sections(2.4, seed=5)
    compressed = Compress(threshold_rel_db=-12.0, ratio=8.0, attack_ms=1.0, release_ms=100.0).apply(signal, SR)
    assert _crest_db(compressed) < _crest_db(signal) - 1.0
    sparse = _sections(2.4, seed=6, loud_fraction=0.2, quiet=0.3)  # mostly quiet: they weigh in the RMS
    expanded = Expand(threshold_rel_db=0.0, ratio=3.0, attack_ms=1.0, release_ms=50.0).apply(sparse, SR)
    assert _crest_db(expanded) > _crest_db(sparse) + 1.0
    # make-up gain is a plain gain after the compressor
    louder = Compress(threshold_rel_db=-12.0, ratio=8.0, attack_ms=1.0, release_ms=100.0, makeup_db=6.0)
    assert _rms_db(louder.apply(signal, SR)) - _rms_db(compressed) == pytest.approx(6.0, abs=1e-3)


def test_width_and_pan_move_the_stereo_image():
    stereo = _noise(1.0, seed=2)
    stereo[1] = 0.6 * stereo[1] + 0.4 * stereo[0]

    def side_over_mid(x):
        return _db(np.mean((x[0] - x[1]) ** 2) / np.mean((x[0] + x[1]) ** 2))

    assert side_over_mid(Width(width=2.0).apply(stereo, SR)) == pytest.approx(side_over_mid(stereo) + 6.02, abs=0.01)
    assert side_over_mid(Width(width=0.5).apply(stereo, SR)) < side_over_mid(stereo)
    assert np.allclose(Width(width=0.0).apply(stereo, SR)[0], Width(width=0.0).apply(stereo, SR)[1])

    def ild(x):
        return _rms_db(x[1]) - _rms_db(x[0])  # right minus left

    right = Pan(position=0.5)
    assert ild(right.apply(stereo, SR)) - ild(stereo) == pytest.approx(right.ild_change_db(), abs=1e-3)
    assert right.ild_change_db() > 0 and ild(Pan(position=-0.5).apply(stereo, SR)) < ild(stereo)
    assert np.array_equal(Pan(position=0.0).apply(stereo, SR), stereo)


def test_reverb_adds_a_decaying_tail_and_is_deterministic():
    click = np.zeros((2, 2 * SR), dtype=np.float32)
    click[:, 100] = 1.0
    reverb = Reverb(wet_level=0.4, room_size=0.8, damping=0.3)
    out = reverb.apply(click, SR)
    assert np.array_equal(out, reverb.apply(click, SR))
    assert np.array_equal(out, Reverb(wet_level=0.4, room_size=0.8, damping=0.3).apply(click, SR))
    windows = [_rms_db(out[:, int(a * SR):int((a + 0.2) * SR)]) for a in (0.05, 0.4, 0.8, 1.2)]
    assert windows[0] > -70  # a tail after the click
    assert all(a > b for a, b in zip(windows, windows[1:]))  # that decays
    assert not np.array_equal(out[0, 200:], out[1, 200:])  # stereo (decorrelated) tail
    assert np.array_equal(Reverb(wet_level=0.0).apply(click, SR), click)  # dry path at unity


# ------------------------------------------------------------------------------------------------ severity
def _severity(stems: np.ndarray, effects: list[EffectSpec]) -> float:
    meter = SeverityMeter(mix(stems), SR)
    render_chain(stems, [spec.to_dict() for spec in effects], SR, observer=meter)
    return meter.total


def test_severity_is_zero_for_the_reference_and_one_per_db_of_broadband_level():
    stems = _stems()
    assert _severity(stems, []) == 0.0
    alone = np.zeros_like(stems)
    alone[2] = stems[2]  # the mix is the drums alone: +1 dB on them is +1 dB in every band
    assert _severity(alone, [EffectSpec("drums", Gain(gain_db=1.0))]) == pytest.approx(1.0, abs=1e-3)
    assert _severity(alone, [EffectSpec("drums", Gain(gain_db=-3.0))]) == pytest.approx(3.0, abs=1e-3)
    half = np.zeros_like(stems)
    half[0], half[1] = _noise(1.0, seed=1, scale=0.1), _noise(1.0, seed=2, scale=0.1)
    # +6 dB on a stem holding half of the mix's power: the mix rises 10·log10(0.5 + 0.5·10^0.6) = 3.96 dB
    assert _severity(half, [EffectSpec("vocals", Gain(gain_db=6.0))]) == pytest.approx(3.96, abs=0.15)


@pytest.mark.parametrize("make", [
    lambda m: Gain(gain_db=m), lambda m: Gain(gain_db=-m),
    lambda m: EqPeak(freq_hz=1000.0, gain_db=m, q=1.0), lambda m: Tilt(db_per_octave=m / 3),
    lambda m: Pan(position=m / 10), lambda m: Reverb(wet_level=m / 20),
    lambda m: Width(width=1 + m / 5),
])
def test_severity_grows_with_the_fault_magnitude(make):
    stems = _stems(1.0, seed=4)
    values = [_severity(stems, [EffectSpec("drums", make(m))]) for m in (1.0, 3.0, 6.0, 9.0)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert values[0] > 0


# ------------------------------------------------------------------------------------------------ headroom, shard
def test_a_hot_mix_gets_a_logged_headroom_gain(caplog):
    stems = _stems(1.0, seed=6)
    stems *= 0.99 / np.max(np.abs(mix(stems)))  # the reference peaks at -0.09 dBFS
    config = DegradeSettings.from_config({"variants_per_track": 3, "faults": ["gain"], "gain_db": [6.0, 6.0]})
    with caplog.at_level(logging.WARNING, logger="mixrep.degrade.shard"):
        rows = degrade_track("hot", stems, config, seed=0)
    assert rows[0].headroom_gain_db == pytest.approx(-1.0 - rows[0].peak_dbfs, abs=1e-3)
    for row in rows:
        rendered = mix(render_variant(stems, row.effects, SR))
        if row.peak_dbfs > config.clip_threshold_dbfs:
            assert row.headroom_gain_db < 0 and '"headroom"' in row.effects
            assert 20 * np.log10(np.abs(rendered).max()) == pytest.approx(config.headroom_target_dbfs, abs=0.01)
            assert "headroom" not in row.fault_types
        else:
            assert row.headroom_gain_db == 0.0
    assert "headroom gain" in caplog.text
    assert any(row.headroom_gain_db == 0.0 for row in rows[1:])  # -6 dB on a stem brings the peak down


def _write_shard(root, tracks: int, seconds: float = 0.5):
    rows = []
    for k in range(tracks):
        track_id = f"syn-test-{k}"
        stem_dir = root / "stems" / track_dirname(track_id)
        write_stems(stem_dir, _stems(seconds, seed=10 + k) * 0.5)
        rows.append({"track_id": track_id, "stem_dir": str(stem_dir.relative_to(root)), "method": "oracle",
                     "num_samples": int(seconds * SR)})
    index = root / "index.parquet"
    pd.DataFrame(rows).to_parquet(index)
    return index, rows


def test_iter_variants_renders_every_recipe_row(tmp_path, monkeypatch):
    index, rows = _write_shard(tmp_path, tracks=2)
    config = DegradeSettings.from_config({"variants_per_track": 2})
    recipes = pd.DataFrame([vars(r) for row in rows
                            for r in degrade_track(row["track_id"], read_stems(tmp_path / row["stem_dir"]), config, 0)])
    monkeypatch.chdir(tmp_path)  # stem_dir is relative to the working directory
    seen = list(iter_variants(index, recipes))
    assert [(t, v) for t, v, _ in seen] == list(zip(recipes["track_id"], recipes["variant_id"]))
    for (track_id, variant_id, stems), effects in zip(seen, recipes["effects"]):
        original = read_stems(tmp_path / "stems" / track_dirname(track_id))
        assert stems.shape == original.shape and stems.dtype == np.float32
        assert np.array_equal(stems, render_variant(original, effects, SR))
        if variant_id == 0:
            assert np.array_equal(stems, original)
    stray = recipes.assign(track_id="syn-not-indexed")
    with pytest.raises(ValueError, match="syn-not-indexed.*not in the stems index"):
        next(iter_variants(index, stray))


def test_cli_on_a_tiny_shard(tmp_path, monkeypatch):
    index, rows = _write_shard(tmp_path, tracks=2)
    broken = tmp_path / "stems" / "broken"
    broken.mkdir()
    (broken / "vocals.wav").write_bytes(b"not audio")
    table = pd.read_parquet(index)
    table.loc[len(table)] = {"track_id": "syn-broken", "stem_dir": "stems/broken", "method": "oracle",
                             "num_samples": 10}
    nan_stems = _stems(0.5, seed=9)
    nan_stems[2, 0, 100] = np.nan
    write_stems(tmp_path / "stems" / "nan", nan_stems)
    table.loc[len(table)] = {"track_id": "syn-nan", "stem_dir": "stems/nan", "method": "oracle",
                             "num_samples": nan_stems.shape[-1]}
    table.to_parquet(index)
    monkeypatch.chdir(tmp_path)
    settings = json.dumps({"seed": 3, "shard_size": 8, "degrade": {"variants_per_track": 3}})
    out = tmp_path / "variants" / "shard-000" / "recipes.parquet"
    audio_dir = tmp_path / "listen"
    assert degrade_main(["--stems", str(index), "--out", str(out), "--settings", settings,
                         "--write-audio", str(audio_dir)]) == 0
    recipes = pd.read_parquet(out)
    assert tuple(recipes.columns) == RECIPE_COLUMNS
    assert len(recipes) == 2 * 4 and set(recipes["track_id"]) == {r["track_id"] for r in rows}
    assert sorted(recipes["variant_id"].unique()) == [0, 1, 2, 3]
    reference = recipes[recipes["variant_id"] == 0]
    assert (reference["severity"] == 0).all() and (reference["fault_types"] == "none").all()
    assert (recipes.loc[recipes["variant_id"] > 0, "severity"] > 0).all()
    for effects in recipes["effects"]:
        for entry in json.loads(effects):
            assert set(entry) == {"stem", "effect", "params"}
            if entry["effect"] in ("compress", "expand"):
                assert entry["params"]["threshold_db"] is not None
    assert recipes["seed"].tolist() == [variant_seed(3, t, v) for t, v in zip(recipes["track_id"],
                                                                                recipes["variant_id"])]
    rejected = pd.read_csv(out.with_name("rejected.csv")).sort_values("track_id")
    assert rejected["track_id"].tolist() == ["syn-broken", "syn-nan"]
    assert "vocals.wav" in rejected["reason"].iloc[0] and "not finite" in rejected["reason"].iloc[1]
    wavs = sorted(audio_dir.rglob("*.wav"))
    assert len(wavs) == 8
    # a second run (another process order would not matter either) writes the same table
    again = tmp_path / "again.parquet"
    assert degrade_main(["--stems", str(index), "--out", str(again), "--settings", settings]) == 0
    pd.testing.assert_frame_equal(recipes, pd.read_parquet(again))
    # bad settings fail with a message, not a traceback
    assert degrade_main(["--stems", str(index), "--out", str(again),
                         "--settings", json.dumps({"degrade": {"colour": 1}})]) == 2
