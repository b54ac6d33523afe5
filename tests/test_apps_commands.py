"""`mixrep bundle | analyze | compare | transfer-file` on files the tests generate, with a tiny bundle
(random-weight SCNet in the published layout, random-init encoder, regressor fitted on random numbers)."""

from __future__ import annotations

import json
import math
import shutil
import tracemalloc
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from mixrep.apps.analyze import AnalyzeSettings, analyze_file
from mixrep.apps.bundle import load_bundle
from mixrep.apps.compare import compare_records
from mixrep.apps.inputs import iter_chunks, scan
from fixtures.toy_bundle import build_toy_bundle, toy_stems
from mixrep.audio import write_audio, write_stems
from mixrep.cli import main
from mixrep.stems import SAMPLE_RATE

QUIET = AnalyzeSettings(progress=False)
GAIN_6DB = 10 ** (6 / 20)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("apps")
    bundle_dir, tracks = build_toy_bundle(root)
    stems_dir = root / "stems"
    mixes = root / "mixes"
    for track, stems in tracks.items():
        write_stems(stems_dir / track, stems)
        write_audio(mixes / f"{track}.wav", stems.sum(0))
    loud = tracks["rock-000"].copy()
    loud[0] *= GAIN_6DB  # the planted case: the reference mix with its vocals raised 6 dB
    write_stems(stems_dir / "rock-000-loud", loud)
    write_audio(mixes / "rock-000-loud.wav", loud.sum(0))
    return {"root": root, "bundle_dir": bundle_dir, "bundle": load_bundle(bundle_dir), "stems": stems_dir,
            "mixes": mixes, "tracks": tracks}


def _all_finite(value) -> bool:
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def test_bundle_verify_catches_changed_missing_and_extra_files(toy, tmp_path, capsys) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(toy["bundle_dir"], copy)
    assert main(["bundle", "verify", str(copy)]) == 0
    assert "ok (6 files)" in capsys.readouterr().out
    norms = copy / "norms.json"
    norms.write_text(norms.read_text().replace('"n"', '"N"', 1))
    (copy / "notes.txt").write_text("mine")
    (copy / "regressor.pt").unlink()
    assert main(["bundle", "verify", str(copy)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"mixrep bundle verify: {copy / 'norms.json'}: changed (sha256 differs from the manifest)",
                     f"mixrep bundle verify: {copy / 'regressor.pt'}: missing",
                     f"mixrep bundle verify: {copy / 'notes.txt'}: extra (not in the manifest)"]
    with pytest.raises(Exception, match="failed verification"):
        load_bundle(copy)


def test_bundle_build_cli_reproduces_the_bundle(toy, tmp_path, capsys) -> None:
    art = toy["root"] / "artifacts"
    settings = json.loads((toy["bundle_dir"] / "settings.json").read_text())
    codes = settings.pop("code_versions")
    settings.pop("format")
    out = tmp_path / "rebuilt"
    assert main(["bundle", "build", "--separator", str(art / "checkpoint.th"), "--encoder", str(art / "encoder.pt"),
                 "--regressor", str(art / "regressor.pt"), "--predictions", str(art / "predictions.parquet"),
                 "--embeddings", str(art / "embeddings.parquet"), "--features", str(art / "features.parquet"),
                 "--settings", json.dumps(settings), "--code-versions", json.dumps(codes), "--out", str(out)]) == 0
    assert main(["bundle", "verify", str(out)]) == 0
    assert (out / "manifest.json").read_text() == (toy["bundle_dir"] / "manifest.json").read_text()
    references = load_bundle(out).references
    assert len(references) == len(toy["tracks"])  # variant 0 of every track, not variant 1


@pytest.mark.parametrize("kind", ["wav16", "wav24", "wav32f", "flac", "ogg", "mp3", "mono", "sr22050", "sr48000"])
def test_input_kinds_read_in_chunks_match_the_whole_file(toy, tmp_path, kind) -> None:
    mix = toy["tracks"]["jazz-001"].sum(0)
    fmt, subtype, rate, audio = {
        "wav16": ("WAV", "PCM_16", SAMPLE_RATE, mix), "wav24": ("WAV", "PCM_24", SAMPLE_RATE, mix),
        "wav32f": ("WAV", "FLOAT", SAMPLE_RATE, mix), "flac": ("FLAC", "PCM_16", SAMPLE_RATE, mix),
        "ogg": ("OGG", "VORBIS", SAMPLE_RATE, mix), "mp3": ("MP3", "MPEG_LAYER_III", SAMPLE_RATE, mix),
        "mono": ("WAV", "PCM_16", SAMPLE_RATE, mix[:1]),
        "sr22050": ("WAV", "FLOAT", 22050, resample_poly(mix, 1, 2, axis=1)),
        "sr48000": ("FLAC", "PCM_24", 48000, resample_poly(mix, 160, 147, axis=1)),
    }[kind]
    path = tmp_path / f"in.{fmt.lower()}"
    sf.write(str(path), np.asarray(audio).T, rate, format=fmt, subtype=subtype)
    info = scan(path)
    whole, _ = sf.read(str(path), dtype="float32", always_2d=True)
    whole = np.repeat(whole.T, 2, axis=0) if whole.shape[1] == 1 else whole.T
    if rate != SAMPLE_RATE:
        assert any("resampled" in note for note in info.notes)
        g = math.gcd(rate, SAMPLE_RATE)
        whole = resample_poly(whole, SAMPLE_RATE // g, rate // g, axis=1)
    if kind == "mono":
        assert "mono duplicated to stereo" in info.notes
    joined = np.concatenate([c for _, c in iter_chunks(info, chunk_s=1.3)], axis=1)  # many chunk edges
    assert joined.shape == whole.shape
    assert np.max(np.abs(joined - whole)) < 2e-3  # chunked resampling joins without edge transients
    assert abs(joined.shape[1] / SAMPLE_RATE - 6.0) < 0.1


def test_analyze_separates_a_48k_mono_flac_and_writes_json_and_self_contained_html(toy, tmp_path) -> None:
    mix = resample_poly(toy["tracks"]["rock-001"].sum(0)[:1], 160, 147, axis=1)
    path = tmp_path / "my song.flac"
    sf.write(str(path), mix.T, 48000, subtype="PCM_24")
    out = tmp_path / "out"
    assert main(["analyze", str(path), "-o", str(out), "--bundle", str(toy["bundle_dir"]), "--quiet"]) == 0
    record = json.loads((out / "my song.json").read_text())
    for key in ("schema", "file", "input", "stems", "bundle", "features", "units", "timeline", "embedding",
                "quality", "nearest_references", "styles", "nearest_style", "deviations", "summary",
                "masked_time_fraction"):
        assert key in record
    assert record["schema"] == "mixrep.analyze/1"
    assert record["stems"] == "separated by the bundle's separator"
    assert any("resampled 48000" in n for n in record["input"]["notes"])
    assert len(record["features"]) == 180 and _all_finite(record)
    assert record["quality"]["low"] <= record["quality"]["score"] <= record["quality"]["high"]
    assert len(record["timeline"]["time_s"]) == 2  # 6 s in 3-s windows
    assert {r["track_id"] for r in record["nearest_references"]} <= set(toy["tracks"])

    class Images(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.sources, self.external = [], []

        def handle_starttag(self, tag, attrs) -> None:
            for name, value in attrs:
                if name == "src":
                    self.sources.append(value)
                if name in ("src", "href") and not value.startswith("data:"):
                    self.external.append(value)

    parser = Images()
    parser.feed((out / "my song.html").read_text())
    assert len(parser.sources) == 3 and not parser.external
    assert all(s.startswith("data:image/png;base64,") for s in parser.sources)


def test_planted_louder_vocals_are_reported_and_compare_closest_to_the_original(toy, capsys) -> None:
    bundle, mixes, stems = toy["bundle"], toy["mixes"], toy["stems"]
    records = {name: analyze_file(mixes / f"{name}.wav", bundle, stems, QUIET)
               for name in ("rock-000-loud", *toy["tracks"])}
    stats = bundle.norms["feature_stats"]
    result = compare_records(records["rock-000"], records["rock-000-loud"], stats)
    vocals = next(r for r in result["top_differences"] if r["column"] == "dynamics.vocals.loudness_lufs")
    assert vocals["difference"] == pytest.approx(6.0, abs=0.5) and vocals["unit"] == "LUFS"
    others = [compare_records(records["rock-000-loud"], records[n], stats) for n in toy["tracks"] if n != "rock-000"]
    # closer to its original than to every other track: by the encoder-free feature distance, and (here, with
    # the tiny random-init encoder and these seeds) by the embedding distance as well
    assert all(result["feature_distance"] < o["feature_distance"] for o in others)
    assert all(result["embedding_distance"] < o["embedding_distance"] for o in others)
    assert main(["compare", str(mixes / "rock-000.wav"), str(mixes / "rock-000-loud.wav"), "--stems", str(stems),
                 "--bundle", str(toy["bundle_dir"])]) == 0
    printed = capsys.readouterr().out
    assert "dynamics.vocals.loudness_lufs" in printed and "LUFS" in printed and "embedding distance" in printed


def test_given_flac_stems_are_read_and_a_missing_stem_is_one_line(toy, tmp_path, capsys) -> None:
    stems = tmp_path / "stems"
    for stem, audio in zip(("vocals", "bass", "drums", "other"), toy["tracks"]["jazz-002"]):
        (stems / "jazz-002").mkdir(parents=True, exist_ok=True)
        sf.write(str(stems / "jazz-002" / f"{stem}.flac"), audio.T, SAMPLE_RATE, subtype="PCM_24")
    record = analyze_file(toy["mixes"] / "jazz-002.wav", toy["bundle"], stems, QUIET)
    reference = analyze_file(toy["mixes"] / "jazz-002.wav", toy["bundle"], toy["stems"], QUIET)
    assert record["features"]["dynamics.vocals.loudness_lufs"] == pytest.approx(
        reference["features"]["dynamics.vocals.loudness_lufs"], abs=0.01)
    (stems / "jazz-002" / "bass.flac").unlink()
    assert main(["analyze", str(toy["mixes"] / "jazz-002.wav"), "--stems", str(stems), "-o", str(tmp_path / "o"),
                 "--bundle", str(toy["bundle_dir"]), "--quiet"]) == 2
    assert f"mixrep analyze: {stems / 'jazz-002'}: given stems folder lacks ['bass.wav']" in capsys.readouterr().err


def test_batch_with_bad_files_reports_each_and_goes_on(toy, tmp_path, capsys) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "text.wav").write_text("not audio at all")
    (bad / "empty.wav").write_bytes(b"")
    sf.write(str(bad / "silent.wav"), np.zeros((5 * SAMPLE_RATE, 2)), SAMPLE_RATE)
    sf.write(str(bad / "short.wav"), 0.1 * np.ones((SAMPLE_RATE, 2)), SAMPLE_RATE)
    nan = 0.1 * np.ones((5 * SAMPLE_RATE, 2), dtype=np.float32)
    nan[SAMPLE_RATE * 2] = np.nan
    sf.write(str(bad / "nan.wav"), nan, SAMPLE_RATE, subtype="FLOAT")
    files = [bad / n for n in ("text.wav", "empty.wav", "silent.wav", "short.wav", "nan.wav")]
    good = toy["mixes"] / "jazz-000.wav"
    out = tmp_path / "out"
    code = main(["analyze", *map(str, files), str(good), "--stems", str(toy["stems"]), "-o", str(out),
                 "--bundle", str(toy["bundle_dir"]), "--quiet", "--no-html"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert (out / "jazz-000.json").is_file() and not (out / "text.json").exists()
    reasons = {"text.wav": "unreadable", "empty.wav": "empty file", "silent.wav": "silent",
               "short.wav": "too short", "nan.wav": "non-finite samples"}
    for name, reason in reasons.items():
        assert any(line.startswith(f"mixrep analyze: {bad / name}: {reason}") for line in err), (name, err)
    assert err[-1].startswith("mixrep analyze: 5 of 6 file(s) failed: ")


def test_transfer_file_lowers_the_distance_on_a_planted_case(toy, tmp_path, capsys) -> None:
    out = tmp_path / "remix.wav"
    code = main(["transfer-file", str(toy["mixes"] / "rock-000-loud.wav"), "--reference",
                 str(toy["mixes"] / "rock-000.wav"), "-o", str(out), "--stems", str(toy["stems"]),
                 "--bundle", str(toy["bundle_dir"]), "--iterations", "6", "--popsize", "8", "--excerpt-s", "3",
                 "--embedding", "features"])  # the encoder-free stand-in: a random-init encoder barely moves
    assert code == 0, capsys.readouterr().err
    audio, rate = sf.read(str(out), always_2d=True)
    assert rate == SAMPLE_RATE and audio.shape == (6 * SAMPLE_RATE, 2) and np.isfinite(audio).all()
    params = json.loads(out.with_suffix(".params.json").read_text())
    assert params["chain"]["vocals"]["gain_db"]["unit"] == "dB"
    import pandas as pd

    table = pd.read_csv(out.with_suffix(".distances.csv")).set_index("method")
    # better than the untouched source and than one gain to the reference's loudness
    assert table.loc["transfer", "embedding"] < 0.8 * table.loc["none", "embedding"]
    assert table.loc["transfer", "embedding"] < 0.8 * table.loc["loudness_match", "embedding"]


def test_a_20_minute_file_is_read_in_bounded_memory(tmp_path) -> None:
    rate = 22050
    path = tmp_path / "long.wav"
    minute = toy_stems(7, 60.0, "rock", rate).sum(0)[0]
    with sf.SoundFile(str(path), "w", rate, 1, subtype="PCM_16") as handle:
        for _ in range(20):
            handle.write(0.5 * minute)
    info = scan(path)
    assert info.duration_s == pytest.approx(1200.0)
    tracemalloc.start()
    frames = 0
    for _, chunk in iter_chunks(info, chunk_s=30.0):
        frames += chunk.shape[1]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert frames == 1200 * SAMPLE_RATE
    whole_bytes = 1200 * SAMPLE_RATE * 2 * 4  # the file as float32 stereo at 44.1 kHz: 423 MB
    assert peak < 40e6 < whole_bytes / 10


def test_analyze_memory_does_not_grow_with_length(toy, tmp_path) -> None:
    """Peak traced (numpy) memory of analyze_file for 30 s and 90 s of given stems (15 s chunks) is the same."""
    block = toy_stems(3, 30.0, "rock")
    peaks = {}
    for minutes in (0.5, 1.5):
        name = f"long-{minutes:g}"
        folder = tmp_path / "stems" / name
        folder.mkdir(parents=True)
        for stem, audio in zip(("vocals", "bass", "drums", "other"), block):
            with sf.SoundFile(str(folder / f"{stem}.wav"), "w", SAMPLE_RATE, 2, subtype="PCM_16") as handle:
                for _ in range(int(minutes * 2)):
                    handle.write(audio.T)
        mix = tmp_path / f"{name}.wav"
        with sf.SoundFile(str(mix), "w", SAMPLE_RATE, 2, subtype="PCM_16") as handle:
            for _ in range(int(minutes * 2)):
                handle.write(block.sum(0).T)
        tracemalloc.start()
        record = analyze_file(mix, toy["bundle"], tmp_path / "stems", AnalyzeSettings(chunk_s=15.0, progress=False))
        peaks[minutes] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(record["timeline"]["time_s"]) == int(minutes * 20)
    assert peaks[1.5] < 1.1 * peaks[0.5]  # 6 chunks need what 2 chunks need
    assert peaks[1.5] < 1.5 * 60 * SAMPLE_RATE * 2 * 4 * 4  # less than the 90 s file's 4 float32 stems alone
