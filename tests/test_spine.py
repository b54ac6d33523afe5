"""The shared core: stem order, audio I/O and its errors, settings, run names, code versions, CLI."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import soundfile as sf

from mixrep import audio, cli, provenance, runs, settings, stems
from mixrep.errors import InputError


def test_track_dirname_is_safe_and_stable():
    # ids that are already safe, lower-case names stay readable as they are
    assert stems.track_dirname("syn-jazz-001") == "syn-jazz-001"
    assert stems.track_dirname("000123") == "000123"
    # any other id: an ASCII slug, '~', and the first 8 hex digits of sha1 of the exact id
    sha = hashlib.sha1("rock/album 1/song.mp3".encode()).hexdigest()[:8]
    assert stems.track_dirname("rock/album 1/song.mp3") == f"rock__album_1__song.mp3~{sha}"
    assert stems.track_dirname("train/Song A").startswith("train__Song_A~")
    assert stems.track_dirname(".hidden").startswith("hidden~")  # never a hidden folder
    assert stems.track_dirname("") != ""


def test_write_read_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 1000)) * 1.5).astype(np.float32)  # peaks above 1: float WAV keeps them
    path = audio.write_audio(tmp_path / "a.wav", x)
    y, rate = audio.read_audio(path)
    assert rate == stems.SAMPLE_RATE
    np.testing.assert_array_equal(x, y)


def test_stems_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 500)).astype(np.float32)
    audio.write_stems(tmp_path / "t", x)
    np.testing.assert_array_equal(audio.read_stems(tmp_path / "t"), x)


def test_mono_48k_is_converted_and_noted(tmp_path):
    t = np.arange(48000) / 48000
    sf.write(tmp_path / "m.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000)
    x, notes = audio.load_audio(tmp_path / "m.wav")
    assert x.shape == (2, 44100) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], x[1])
    assert "mono duplicated to stereo" in notes and any("resampled 48000" in n for n in notes)
    # the resampled tone keeps its level (RMS of a 0.5 sine = 0.354)
    assert abs(np.sqrt(np.mean(x[0, 1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 5e-3


def test_unreadable_file_error_names_file(tmp_path):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.raises(audio.AudioError) as info:
        audio.read_audio(bad)
    assert str(bad) in str(info.value) and "unreadable" in str(info.value)


def test_different_length_stems_are_an_error(tmp_path):
    for i, name in enumerate(stems.STEMS):
        audio.write_audio(tmp_path / f"{name}.wav", np.zeros((2, 100 + i), np.float32))
    with pytest.raises(audio.AudioError, match="differ in length"):
        audio.read_stems(tmp_path)


def test_settings_parse_json_and_file(tmp_path):
    assert settings.load_settings('{"seed": 3}') == {"seed": 3}
    (tmp_path / "s.yaml").write_text("seed: 4\n")
    assert settings.load_settings(str(tmp_path / "s.yaml")) == {"seed": 4}
    with pytest.raises(InputError, match="missing.yaml"):
        settings.load_settings(str(tmp_path / "missing.yaml"))
    with pytest.raises(InputError, match="not valid JSON"):
        settings.load_settings("{seed: 4")
    out = settings.write_json(tmp_path / "o.json", {"b": np.float32(1.5), "a": np.arange(2)})
    assert json.loads(out.read_text()) == {"a": [0, 1], "b": 1.5}


def test_run_names_round_trip_over_the_full_grid():
    cells = runs.grid(positives=runs.POSITIVES)
    # per positives mode: one `none` cell + 3 conditionings x 5 family sets
    assert len(cells) == 2 * (1 + 3 * 5) and len({c.name for c in cells}) == len(cells)
    for cell in cells:
        assert runs.parse_run(cell.name) == cell
    assert [c.name for c in cells].count("none") == 1 and [c.name for c in cells].count("none-recipe") == 1
    assert runs.parse_run("film-no_masking").families == ("dynamics", "spectral", "stereo")
    assert runs.parse_run("none").families == () and not runs.parse_run("none").conditioned
    assert runs.parse_run("prepend-all-recipe").positives == "same_recipe"
    assert runs.parse_run("prepend-all-recipe").none_twin == "none-recipe"
    assert runs.parse_run("film-all").none_twin == "none"
    for bad in ("film", "film-everything", "gru-all", "film_all", "film-none", "none-all", "film-all-recipes"):
        with pytest.raises(ValueError, match="bad run name"):
            runs.parse_run(bad)


def test_code_version_is_stable_and_per_stage():
    assert provenance.code_version("runs.py") == provenance.code_version("runs.py")
    assert provenance.code_version("runs.py") != provenance.code_version("cli.py")


def test_cli_lists_commands_and_rejects_unknown(capsys):
    assert cli.main(["--help"]) == 0
    assert "manifest" in capsys.readouterr().out
    assert cli.main(["no-such-command"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_every_cli_entry_resolves_to_a_function():
    import importlib

    for name, (module, function, _) in cli.COMMANDS.items():
        assert callable(getattr(importlib.import_module(module), function)), name


def test_extra_channels_are_dropped_and_counted():
    x, notes = audio.to_pipeline_format(np.zeros((6, 10), np.float32), stems.SAMPLE_RATE)
    assert x.shape == (2, 10) and notes == ["kept the first 2 of 6 channels"]


def test_same_audio_gives_identical_bytes(tmp_path):
    import time

    x = np.random.default_rng(2).standard_normal((2, 300)).astype(np.float32)
    first = audio.write_audio(tmp_path / "a.wav", x).read_bytes()
    time.sleep(1.1)  # a PEAK chunk would carry the write time
    assert audio.write_audio(tmp_path / "b.wav", x).read_bytes() == first


def test_device_auto_falls_back_to_cpu_and_explicit_cuda_needs_cuda(monkeypatch):
    import torch

    from mixrep.devices import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
