"""The synthetic multitrack corpus: layout, exact stem sums, determinism, genre mixing styles, config checks.

One tiny corpus (8 genres x 3 tracks x 3 s, two worker processes) is generated per module and shared.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pyloudnorm as pyln
import pytest
import soundfile as sf
import yaml

from mixrep.audio import read_audio, read_stems
from mixrep.corpus import render
from mixrep.corpus.arrangement import arrange
from mixrep.corpus.cli import main as corpus_main
from mixrep.corpus.generate import CorpusSettings, TrackSpec, generate_corpus, generate_track
from mixrep.corpus.genres import GENRES, get_genre
from mixrep.corpus.mixstyle import limiter_envelope, master
from mixrep.stems import SAMPLE_RATE, STEMS

SEED = 0
SECONDS = 3.0
CONFIG = CorpusSettings(tracks_per_genre=3, seconds=SECONDS, crossed_arrangements=0)  # crossed set: test_crossed.py
REQUIRED_COLUMNS = ["track_id", "genre", "seconds", "tempo_bpm", "key", "has_vocals", "seed",
                    "integrated_lufs", "peak_dbfs"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("corpus")
    report = generate_corpus(out, CONFIG, seed=SEED, jobs=2)
    assert not report.failures
    return out, pd.read_parquet(out / "metadata.parquet")


def _digest(path: Path) -> str:
    """Hash of the decoded samples (libsndfile stamps float WAVs with a PEAK chunk holding the write time)."""
    audio, rate = read_audio(path)
    return hashlib.sha256(audio.tobytes() + str(rate).encode()).hexdigest()


def _track_audio(out: Path, track_id: str, name: str) -> np.ndarray:
    audio, rate = read_audio(out / "tracks" / track_id / f"{name}.wav")
    assert rate == SAMPLE_RATE
    return audio


# ------------------------------------------------------------------------------------ layout + table
def test_layout_and_formats(corpus):
    out, meta = corpus
    expected = {f"syn-{g}-{i:03d}" for g in GENRES for i in range(3)}
    assert set(meta["track_id"]) == expected
    assert {p.name for p in (out / "tracks").iterdir()} == expected
    for track_id in expected:
        assert re.fullmatch(r"syn-[a-z-]+-\d{3}", track_id)
        for name in ("mixture", *STEMS):
            info = sf.info(str(out / "tracks" / track_id / f"{name}.wav"))
            assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 2, "FLOAT")
            assert info.frames == int(SECONDS * SAMPLE_RATE)


def test_metadata_columns(corpus):
    _, meta = corpus
    for column in REQUIRED_COLUMNS:
        assert column in meta.columns, column
    for stem in STEMS:
        for param in ("gain_db", "low_shelf_db", "presence_db", "high_shelf_db", "comp_threshold_db",
                      "comp_ratio", "reverb_wet", "width", "pan"):
            assert f"mix.{stem}.{param}" in meta.columns
    assert {"mix.master.target_lufs", "mix.master.tilt_db", "mix.master.room_size"} <= set(meta.columns)
    assert meta["seed"].eq(SEED).all() and meta["seconds"].eq(SECONDS).all()
    assert meta["has_vocals"].dtype == bool
    assert meta["genre"].value_counts().to_dict() == {g: 3 for g in GENRES}


def test_recorded_loudness_and_peak_match_the_audio(corpus):
    out, meta = corpus
    meter = pyln.Meter(SAMPLE_RATE, filter_class="DeMan")
    for row in meta.itertuples():
        mix = _track_audio(out, row.track_id, "mixture")
        assert meter.integrated_loudness(mix.T.astype(np.float64)) == pytest.approx(row.integrated_lufs, abs=0.01)
        assert 20 * np.log10(np.abs(mix).max()) == pytest.approx(row.peak_dbfs, abs=0.01)
        assert row.peak_dbfs <= CONFIG.limiter_ceiling_db + 0.01


def test_stems_sum_to_the_mixture(corpus):
    out, meta = corpus
    for track_id in meta["track_id"]:
        stems = read_stems(out / "tracks" / track_id)
        mixture = _track_audio(out, track_id, "mixture")
        assert np.max(np.abs(stems.sum(axis=0) - mixture)) < 1e-5
        assert np.abs(mixture).max() > 0.05


def test_vocal_stem_is_silent_exactly_when_there_are_no_vocals(corpus):
    out, meta = corpus
    assert meta["has_vocals"].any() and not meta["has_vocals"].all()
    for row in meta.itertuples():
        vocals = _track_audio(out, row.track_id, "vocals")
        if row.has_vocals:
            assert np.sqrt(np.mean(vocals ** 2)) > 1e-3
        else:
            assert not np.any(vocals)
        for stem in ("bass", "other"):
            assert np.any(_track_audio(out, row.track_id, stem))


# ------------------------------------------------------------------------------------ determinism
def test_same_seed_gives_identical_audio_in_any_order(corpus, tmp_path):
    """Tracks regenerated one by one in this process equal those the 2-process pool wrote."""
    out, _ = corpus
    from mixrep.corpus.generate import write_track

    for spec in (TrackSpec("jazz", 2, SEED), TrackSpec("metal", 0, SEED)):
        folder = write_track(generate_track(spec, CONFIG), tmp_path)
        for name in ("mixture", *STEMS):
            assert _digest(folder / f"{name}.wav") == _digest(out / "tracks" / spec.track_id / f"{name}.wav")


def test_another_seed_gives_another_track(corpus):
    out, _ = corpus
    other = generate_track(TrackSpec("rock", 0, SEED + 1), CONFIG)
    mine = _track_audio(out, "syn-rock-000", "mixture")
    assert other.mixture.shape == mine.shape
    assert not np.allclose(other.mixture, mine, atol=1e-3)


def test_library_renderer_is_deterministic_and_dry():
    genre = get_genre("folk")
    arrangement = arrange(genre, 2.0, np.random.default_rng(3))
    soundfont = render.find_soundfont()
    n = int(2.0 * SAMPLE_RATE)
    first = render.render_library(arrangement.stems["other"], soundfont, n)
    # a different stem in between must not change the next render (fresh synthesizer per stem)
    render.render_library(arrangement.stems["drums"], soundfont, n)
    second = render.render_library(arrangement.stems["other"], soundfont, n)
    assert first.shape == (2, n) and first.dtype == np.float32
    assert np.array_equal(first, second)
    assert np.abs(first).max() > 0.01


def test_cli_renderer_gives_a_stem_of_the_exact_length():
    arrangement = arrange(get_genre("rock"), 1.5, np.random.default_rng(0))
    n = int(1.5 * SAMPLE_RATE) + 7
    audio = render.render_cli(arrangement.stems["bass"], render.find_soundfont(), n, arrangement.tempo_bpm)
    assert audio.shape == (2, n) and np.abs(audio).max() > 0.01


# ------------------------------------------------------------------------------------ genre styles
def _stats(out: Path, meta: pd.DataFrame, genre: str) -> dict[str, float]:
    """Loudness, crest factor and side/mid energy measured on the genre's mixtures (means)."""
    meter = pyln.Meter(SAMPLE_RATE, filter_class="DeMan")
    loud, crest, width = [], [], []
    for track_id in meta.loc[meta["genre"] == genre, "track_id"]:
        mix = _track_audio(out, track_id, "mixture").astype(np.float64)
        loud.append(meter.integrated_loudness(mix.T))
        crest.append(20 * np.log10(np.abs(mix).max() / np.sqrt(np.mean(mix ** 2))))
        mid, side = (mix[0] + mix[1]) / 2, (mix[0] - mix[1]) / 2
        width.append(np.sum(side ** 2) / np.sum(mid ** 2))
    return {"lufs": float(np.mean(loud)), "crest": float(np.mean(crest)), "side_mid": float(np.mean(width))}


def test_genres_differ_in_measured_mixing_statistics(corpus):
    out, meta = corpus
    metal, jazz, classical, hiphop = (_stats(out, meta, g) for g in ("metal", "jazz", "classical", "hip-hop"))
    assert metal["lufs"] > jazz["lufs"] + 4 and metal["lufs"] > classical["lufs"] + 6
    assert metal["crest"] < jazz["crest"] - 1 and metal["crest"] < classical["crest"] - 1
    assert classical["side_mid"] > 3 * hiphop["side_mid"]


def test_hip_hop_is_more_bass_heavy_than_classical(corpus):
    out, meta = corpus

    def bass_share(genre: str) -> float:
        shares = []
        for track_id in meta.loc[meta["genre"] == genre, "track_id"]:
            stems = read_stems(out / "tracks" / track_id).astype(np.float64)
            energy = np.sum(stems ** 2, axis=(1, 2))
            shares.append(energy[STEMS.index("bass")] / energy.sum())
        return float(np.mean(shares))

    assert bass_share("hip-hop") > bass_share("classical")


# ------------------------------------------------------------------------------------ mastering
def test_limiter_envelope_holds_the_ceiling():
    rng = np.random.default_rng(0)
    x = (rng.normal(0, 0.1, (2, 44100))).astype(np.float32)
    x[:, 1000] = 3.0
    x[:, 20000:20010] = -2.0
    envelope = limiter_envelope(x, -1.0, SAMPLE_RATE)
    assert envelope.shape == (44100,) and envelope.max() <= 1.0
    assert np.abs(x * envelope).max() <= 10 ** (-1 / 20) + 1e-6
    assert np.all(envelope[30000:] == 1.0)  # released well after the last peak
    quiet = limiter_envelope(x * 0.1, -1.0, SAMPLE_RATE)
    assert np.all(quiet == 1.0)


def test_master_reaches_the_target_and_keeps_the_sum_exact():
    rng = np.random.default_rng(1)
    stems = (rng.normal(0, 0.05, (4, 2, 3 * SAMPLE_RATE))).astype(np.float32)
    result = master(stems, target_lufs=-16.0, ceiling_db=-1.0, sample_rate=SAMPLE_RATE)
    assert result.integrated_lufs == pytest.approx(-16.0, abs=0.3)
    assert np.max(np.abs(result.stems.sum(axis=0) - result.mixture)) < 1e-6
    assert result.peak_dbfs <= -1.0 + 1e-3


# ------------------------------------------------------------------------------------ arrangement
def test_docs_hold_the_genre_tables(repo_root: Path) -> None:
    from mixrep.corpus.genres import describe_genres
    docs = (repo_root / "docs" / "corpus.md").read_text().splitlines()
    missing = [line for line in describe_genres().splitlines() if line and line not in docs]
    assert not missing, f"docs/corpus.md lacks (or differs in) these rows of describe_genres(): {missing}"


def test_arrangement_conventions():
    rng = np.random.default_rng(11)
    for name, genre in [(name, genre) for name, genre in GENRES.items() for _ in range(4)]:
        arrangement = arrange(genre, 6.0, rng)
        (drums,) = arrangement.stems["drums"]
        assert drums.is_drum and drums.notes
        assert lo_hi(genre.arrangement.tempo_bpm, arrangement.tempo_bpm)
        for inst in arrangement.stems["vocals"]:
            assert inst.program in (52, 53, 54) and inst.pitch_bends
            notes = sorted(inst.notes, key=lambda n: n.start)
            gaps = [b.start - a.end for a, b in zip(notes, notes[1:])]
            assert min(gaps) < 0 < max(gaps)  # legato overlaps inside phrases, rests between them
        for stem, instruments in arrangement.stems.items():
            for inst in instruments:
                assert _no_same_pitch_overlap(inst), (name, stem, inst.program)


def _no_same_pitch_overlap(inst) -> bool:
    """A note-off ends every voice of its key, so a note may not start before the same key's last one ended."""
    last_end: dict[int, float] = {}
    for note in sorted(inst.notes, key=lambda n: (n.start, n.end)):
        if note.start < last_end.get(note.pitch, -1.0) - 1e-9:
            return False
        last_end[note.pitch] = max(note.end, last_end.get(note.pitch, -1.0))
    return True


def lo_hi(bounds: tuple[float, float], value: float) -> bool:
    return bounds[0] <= value <= bounds[1]


# ------------------------------------------------------------------------------------ config
@pytest.fixture(scope="module")
def schema(repo_root: Path) -> dict:
    return yaml.safe_load((repo_root / "workflow/schemas/sections/synthetic.schema.yaml").read_text())


@pytest.mark.parametrize("section, key", [
    ({"tracks_per_genre": 2, "colour": "red"}, "colour"),
    ({"tracks_per_genre": "many"}, "tracks_per_genre"),
    ({"genres": ["rock", "polka"]}, "polka"),
    ({"seconds": 0.5}, "seconds"),
])
def test_schema_rejects_bad_sections_naming_the_key(schema, section, key):
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(section))
    assert errors
    assert any(key in error.message or key in map(str, error.absolute_path) for error in errors)


def test_schema_defaults_match_the_code_and_config(schema, repo_root):
    defaults = {key: spec["default"] for key, spec in schema["properties"].items()}
    config = CorpusSettings.from_config(defaults)
    assert config == CorpusSettings()
    jsonschema.validate(yaml.safe_load((repo_root / "config.yaml").read_text())["synthetic"], schema)
    jsonschema.validate(yaml.safe_load((repo_root / "tests/config.test.yaml").read_text())["synthetic"], schema)


def test_cli_reports_bad_settings(tmp_path, capsys):
    code = corpus_main(["--out", str(tmp_path), "--settings", '{"synthetic": {"genres": ["polka"]}}'])
    assert code == 2
    assert "polka" in capsys.readouterr().err
    assert not (tmp_path / "metadata.parquet").exists()


def test_missing_soundfont_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(render, "default_soundfonts", lambda: [tmp_path / "none.sf2"])
    with pytest.raises(render.RenderError, match="fluid-soundfont-gm"):
        render.find_soundfont()
    with pytest.raises(render.RenderError, match="does not exist"):
        render.find_soundfont(tmp_path / "mine.sf2")


def test_fallback_soundfont_of_pretty_midi_renders_a_track(monkeypatch):
    """Without Debian's FluidR3_GM the small soundfont shipped with pretty_midi is used."""
    fallback = render.default_soundfonts()[-1]
    monkeypatch.setattr(render, "default_soundfonts", lambda: [fallback.parent / "absent.sf2", fallback])
    track = generate_track(TrackSpec("pop", 0, SEED), CorpusSettings(genres=("pop",), tracks_per_genre=1, seconds=2.0))
    assert track.record["soundfont"] == fallback.name
    assert np.max(np.abs(track.stems.sum(axis=0) - track.mixture)) < 1e-5
    assert np.abs(track.mixture).max() > 0.05


def test_a_failing_track_is_listed_and_the_rest_goes_on(monkeypatch, tmp_path):
    from mixrep.corpus import generate

    real = generate.generate_track

    def flaky(spec: TrackSpec, config: CorpusSettings) -> generate.Track:
        if spec.index == 1:
            raise ValueError("synthesizer exploded")
        return real(spec, config)

    monkeypatch.setattr(generate, "generate_track", flaky)
    config = CorpusSettings(genres=("folk",), tracks_per_genre=2, seconds=1.5, crossed_arrangements=0)
    report = generate_corpus(tmp_path, config, seed=SEED, jobs=1)
    assert list(report.metadata["track_id"]) == ["syn-folk-000"]
    failed = pd.read_csv(tmp_path / "failed.csv")
    assert failed.to_dict("records") == [{"track_id": "syn-folk-001", "reason": "ValueError: synthesizer exploded"}]
    assert not (tmp_path / "tracks" / "syn-folk-001").exists()


def test_a_smaller_rerun_removes_stale_track_folders(tmp_path):
    generate_corpus(tmp_path, CorpusSettings(genres=("rock",), tracks_per_genre=2, seconds=1.0, crossed_arrangements=0),
                    seed=SEED)
    (tmp_path / "tracks" / "my-notes").mkdir()  # not a generated folder: left alone
    generate_corpus(tmp_path, CorpusSettings(genres=("rock",), tracks_per_genre=1, seconds=1.0, crossed_arrangements=0),
                    seed=SEED)
    assert sorted(p.name for p in (tmp_path / "tracks").iterdir()) == ["my-notes", "syn-rock-000"]
    assert list(pd.read_parquet(tmp_path / "metadata.parquet")["track_id"]) == ["syn-rock-000"]


def test_cli_writes_a_corpus(tmp_path, capsys):
    settings = ('{"seed": 3, "synthetic": {"genres": ["metal", "jazz"], "tracks_per_genre": 1, "seconds": 1.5,'
                ' "crossed_arrangements": 0}}')
    assert corpus_main(["--out", str(tmp_path), "--jobs", "2", "--settings", settings]) == 0
    meta = pd.read_parquet(tmp_path / "metadata.parquet")
    assert list(meta["track_id"]) == ["syn-jazz-000", "syn-metal-000"] and meta["seed"].eq(3).all()
    assert "wrote 2 tracks" in capsys.readouterr().out
