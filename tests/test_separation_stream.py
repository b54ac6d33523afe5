"""Streaming separation (file -> stem files): the same results as the whole-track path, bounded memory."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mixrep.audio import AudioError, load_audio, read_audio, read_stems, write_audio, write_stems
from mixrep.separation.apply import ApplySettings, MonoStats, separate_track
from mixrep.separation.scnet import SCNet
from mixrep.separation.stream import copy_stems, separate_file
from mixrep.separation.scnet_entry import SCNET_ORDER
from mixrep.stems import STEMS

TINY = {"dims": [4, 8, 16, 32], "nfft": 1024, "hop_size": 256, "win_size": 1024, "conv_depths": [1, 1, 1],
        "num_dplayer": 2}


class Tagged(torch.nn.Module):
    """Source k (SCNet order) = sin(mixture) * (k + 1): position-dependent, so a misplaced chunk shows."""

    sources = list(SCNET_ORDER)

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        ramp = torch.linspace(0.5, 1.5, mix.shape[-1])
        return torch.stack([torch.sin(mix) * ramp * (k + 1) for k in range(4)], dim=1)


def _files_equal(a: Path, b: Path) -> bool:
    """Both folders hold the same stem files (and gains.json) byte for byte."""
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) >= len(STEMS)
    return all(filecmp.cmp(a / name, b / name, shallow=False) for name in names)


def test_scnet_20s_streaming_equals_separate_track(tmp_path: Path) -> None:
    """A tiny random SCNet on 20 s: float WAV values and FLAC-24 bytes as the whole-track path writes them."""
    torch.manual_seed(0)
    model = SCNet(**TINY).eval()
    mix = np.random.default_rng(0).normal(0.01, 0.2, size=(2, 20 * 44_100)).astype(np.float32)
    write_audio(tmp_path / "mix.wav", mix)
    settings = ApplySettings(segment_s=2.0, overlap=0.25, batch_size=2, device="cpu")
    reference = separate_track(model, load_audio(tmp_path / "mix.wav")[0], settings)
    assert separate_file(model, tmp_path / "mix.wav", tmp_path / "wav", settings, "float32") == mix.shape[1]
    np.testing.assert_array_equal(read_stems(tmp_path / "wav"), reference)  # exact (brief: <= 1e-5)
    write_stems(tmp_path / "ref", reference, stem_format="flac24")
    separate_file(model, tmp_path / "mix.wav", tmp_path / "flac", settings, "flac24")
    assert _files_equal(tmp_path / "ref", tmp_path / "flac")
    assert not list((tmp_path / "flac").glob(".*partial*"))


@pytest.mark.parametrize("length,segment_s,overlap,batch", [(9_001, 0.05, 0.75, 3), (30_000, 0.1, 0.0, 1),
                                                            (1_000, 0.1, 0.25, 2), (70_001, 0.3, 0.5, 4)])
def test_chunk_schedule_matches_overlap_add(tmp_path: Path, length: int, segment_s: float, overlap: float,
                                            batch: int) -> None:
    """Short last chunks, heavy overlap, a track shorter than one segment, and more than one read block."""
    mix = np.random.default_rng(length).normal(0.05, 0.3, size=(2, length)).astype(np.float32)
    write_audio(tmp_path / "mix.wav", mix)
    settings = ApplySettings(segment_s=segment_s, overlap=overlap, batch_size=batch, device="cpu")
    reference = separate_track(Tagged(), mix, settings)
    separate_file(Tagged(), tmp_path / "mix.wav", tmp_path / "out", settings, "float32")
    np.testing.assert_array_equal(read_stems(tmp_path / "out"), reference)


@pytest.mark.parametrize("rate,channels", [(44_100, 1), (22_050, 2), (48_000, 1)])
def test_mono_and_other_rates_match_load_audio(tmp_path: Path, rate: int, channels: int) -> None:
    audio = np.random.default_rng(rate).normal(0, 0.2, size=(rate * 2, channels)).astype(np.float32)
    sf.write(tmp_path / "mix.flac", audio, rate, subtype="PCM_24")
    settings = ApplySettings(segment_s=0.2, device="cpu")
    reference = separate_track(Tagged(), load_audio(tmp_path / "mix.flac")[0], settings)
    separate_file(Tagged(), tmp_path / "mix.flac", tmp_path / "out", settings, "float32")
    np.testing.assert_array_equal(read_stems(tmp_path / "out"), reference)  # resampled whole: the same audio


@pytest.mark.parametrize("ext", [".wav", ".flac"])
def test_truncated_mixture_is_rejected_with_read_audios_reason(tmp_path: Path, ext: str) -> None:
    """A WAV cut short (header promises more) and a FLAC cut mid-stream (STREAMINFO, decoder error)."""
    noise = np.random.default_rng(2).normal(0, 0.2, size=(200_000, 2)).astype(np.float32)
    sf.write(tmp_path / f"mix{ext}", noise, 44_100, subtype="FLOAT" if ext == ".wav" else "PCM_24")
    data = (tmp_path / f"mix{ext}").read_bytes()
    (tmp_path / f"cut{ext}").write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(AudioError) as expected:
        read_audio(tmp_path / f"cut{ext}")
    with pytest.raises(AudioError) as got:
        separate_file(Tagged(), tmp_path / f"cut{ext}", tmp_path / "out", ApplySettings(segment_s=0.2), "flac24")
    assert str(got.value) == str(expected.value) and "truncated" in str(got.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_non_finite_output_leaves_no_files(tmp_path: Path) -> None:
    class Broken(Tagged):
        def forward(self, mix: torch.Tensor) -> torch.Tensor:
            return super().forward(mix) / 0.0 * 0.0

    write_audio(tmp_path / "mix.wav", np.full((2, 20_000), 0.1, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        separate_file(Broken(), tmp_path / "mix.wav", tmp_path / "out", ApplySettings(segment_s=0.1), "flac24")
    assert not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("stored,target", [("flac24", "flac24"), ("float32", "flac24"), ("flac24", "float32")])
def test_oracle_copy_streams_the_bytes_of_write_stems(tmp_path: Path, stored: str, target: str) -> None:
    rng = np.random.default_rng(5)
    stems = (rng.normal(0, 1, size=(4, 2, 150_000)) * np.array([1.3, 0.6, 0.02, 0.2])[:, None, None])
    write_stems(tmp_path / "truth", stems.astype(np.float32), stem_format=stored)
    write_stems(tmp_path / "ref", read_stems(tmp_path / "truth"), stem_format=target)
    assert copy_stems(tmp_path / "truth", tmp_path / "out", target) == 150_000
    np.testing.assert_array_equal(read_stems(tmp_path / "out"), read_stems(tmp_path / "ref"))
    assert _files_equal(tmp_path / "ref", tmp_path / "out")


def test_oracle_copy_rejects_stems_of_different_lengths(tmp_path: Path) -> None:
    write_stems(tmp_path / "truth", np.zeros((4, 2, 1_000), np.float32), stem_format="float32")
    write_audio(tmp_path / "truth" / f"{STEMS[2]}.wav", np.zeros((2, 900), np.float32))
    with pytest.raises(AudioError, match="differ in length"):
        copy_stems(tmp_path / "truth", tmp_path / "out", "flac24")


def test_mono_stats_do_not_depend_on_block_sizes_and_match_torch() -> None:
    """The streaming and whole-track paths feed different block sizes; the two numbers must be the same bits."""
    audio = np.random.default_rng(1).normal(0.3, 2.0, size=(2, 300_003)).astype(np.float32)
    results = []
    for size in (7_919, 65_536, 300_003, 100_000):
        stats = MonoStats()
        for start in range(0, audio.shape[1], size):
            stats.add(audio[:, start:start + size])
        results.append(tuple(float(x) for x in stats.normalisation()))
    assert len(set(results)) == 1
    mono = torch.from_numpy(audio).mean(0).double()
    mean, std = results[0]
    assert abs(mean - float(mono.mean())) <= 1e-6 and abs(std - float(mono.std())) <= 1e-6 * float(mono.std())
    silent = MonoStats()
    silent.add(np.zeros((2, 10), np.float32))
    assert float(silent.normalisation()[1]) == 1.0


def test_separate_shard_streams_scnet_rows_and_reports_failures(tmp_path: Path, monkeypatch) -> None:
    """The shard job: an ok row whose stems equal the whole-track path's, a truncated row failed with its reason."""
    import pandas as pd

    from mixrep.separation.checkpoint import LoadedSeparator
    from mixrep.separation.separate import separate_shard

    monkeypatch.chdir(tmp_path)
    mix = np.random.default_rng(3).normal(0, 0.2, size=(2, 50_000)).astype(np.float32)
    write_audio(tmp_path / "a.wav", mix)
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "b.wav").write_bytes(data[: len(data) // 2])
    manifest = pd.DataFrame([{"track_id": "a", "path": str(tmp_path / "a.wav"), "stems_dir": None},
                             {"track_id": "b", "path": str(tmp_path / "b.wav"), "stems_dir": None}])
    settings = ApplySettings(segment_s=0.3, device="cpu")
    separator = LoadedSeparator(Tagged(), {}, list(SCNET_ORDER), "mixrep")
    index = separate_shard(manifest, ["a", "b"], tmp_path / "stems", "scnet", separator, settings)
    assert list(index["status"]) == ["ok", "failed"] and int(index["num_samples"].iloc[0]) == 50_000
    assert "truncated" in index["reason"].iloc[1]
    write_stems(tmp_path / "ref", separate_track(Tagged(), mix, settings), stem_format="flac24")
    assert _files_equal(tmp_path / "ref", tmp_path / index["stem_dir"].iloc[0])


def test_shifts_fall_back_to_the_whole_track_path(tmp_path: Path) -> None:
    mix = np.random.default_rng(8).normal(0, 0.2, size=(2, 40_000)).astype(np.float32)
    write_audio(tmp_path / "mix.wav", mix)
    settings = ApplySettings(segment_s=0.2, shifts=2, seed=3, device="cpu")
    separate_file(Tagged(), tmp_path / "mix.wav", tmp_path / "out", settings, "float32")
    np.testing.assert_array_equal(read_stems(tmp_path / "out"), separate_track(Tagged(), mix, settings))
