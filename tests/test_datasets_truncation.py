"""Cut files are `truncated` in every format, whatever their remaining length, and intact ones are not.

libsndfile hides most cuts: it shrinks a cut WAV's or AIFF's header count to the data left, reports a cut
Ogg as a shorter intact stream, and decodes a cut MP3 without an error. Each case is generated here (a 12 s
file, its bytes cut to 60 %) so that the tell each format leaves is exercised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixrep.audio import AudioError, decode, ogg_stream_ended, read_audio
from mixrep.datasets.inspect import InspectOptions, inspect_candidate
from mixrep.datasets.records import Candidate, Reason, reason_code

SR = 44100
SECONDS = 12.0
# (file name, soundfile format, subtype): MP3 writing needs libsndfile >= 1.1 (checked below)
FORMATS = [
    ("pcm16.wav", "WAV", "PCM_16"),
    ("float.wav", "WAV", "FLOAT"),
    ("extensible.wav", "WAVEX", "PCM_24"),
    ("rf64.wav", "RF64", "PCM_16"),
    ("ms-adpcm.wav", "WAV", "MS_ADPCM"),  # compressed: the `fact` chunk declares the frames
    ("pcm24.aiff", "AIFF", "PCM_24"),
    ("pcm16.flac", "FLAC", "PCM_16"),
    ("vorbis.ogg", "OGG", "VORBIS"),
    ("layer3.mp3", "MP3", "MPEG_LAYER_III"),
]


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    noise = 0.05 * np.random.default_rng(0).standard_normal((t.size, 2))
    return (0.3 * np.sin(2 * np.pi * 330 * t)[:, None] + noise).astype(np.float32)


def write(path: Path, fmt: str, subtype: str, seconds: float = SECONDS) -> Path:
    sf.write(path, tone(seconds), SR, format=fmt, subtype=subtype)
    return path


def cut(path: Path, fraction: float, name: str | None = None) -> Path:
    data = path.read_bytes()
    out = path.with_name(name or f"cut-{path.name}")
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def judge(path: Path, min_duration_s: float = 1.0):
    return inspect_candidate(Candidate(track_id=path.name, source="folder", path=str(path)),
                             InspectOptions(min_duration_s=min_duration_s))


def test_this_libsndfile_writes_every_tested_format() -> None:
    available = sf.available_formats()
    assert all(fmt in available and subtype in sf.available_subtypes(fmt) for _, fmt, subtype in FORMATS)


@pytest.mark.parametrize(("name", "fmt", "subtype"), FORMATS)
def test_intact_file_is_ok(tmp_path: Path, name: str, fmt: str, subtype: str) -> None:
    path = write(tmp_path / name, fmt, subtype)
    row = judge(path)
    assert row.status == "ok", row.reason
    assert decode(path).truncation is None


@pytest.mark.parametrize(("name", "fmt", "subtype"), FORMATS)
def test_file_cut_to_60_percent_is_truncated(tmp_path: Path, name: str, fmt: str, subtype: str) -> None:
    path = cut(write(tmp_path / name, fmt, subtype), 0.6)
    row = judge(path)  # what is left (~7 s) is far above the 1 s minimum: only the cut can reject it
    assert row.status == "rejected" and reason_code(row.reason) == Reason.TRUNCATED.value, row.reason
    assert 5.0 < row.duration_s < 8.0
    if fmt == "OGG":  # Ogg declares no length: the missing end-of-stream page is the tell
        assert "end-of-stream" in row.reason
    else:
        assert f"s of {SECONDS:.2f} s declared" in row.reason
        assert row.reason.startswith(f"truncated: decoded {row.duration_s:.2f} s of")
    with pytest.raises(AudioError, match="truncated"):
        read_audio(path)


@pytest.mark.parametrize(("name", "fmt", "subtype"), FORMATS[:2])
def test_truncation_is_checked_before_the_minimum_duration(tmp_path: Path, name: str, fmt: str,
                                                           subtype: str) -> None:
    path = cut(write(tmp_path / name, fmt, subtype), 0.6)
    row = judge(path, min_duration_s=10.0)  # 7.2 s left: shorter than the minimum, but cut
    assert reason_code(row.reason) == Reason.TRUNCATED.value, row.reason


def test_wav_cut_right_after_its_header_is_truncated_not_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "a.wav", "WAV", "PCM_16")
    header = path.read_bytes().index(b"data") + 8
    cut_path = tmp_path / "header-only.wav"
    cut_path.write_bytes(path.read_bytes()[:header])
    assert sf.info(cut_path).frames == 0  # libsndfile believes the file is empty
    row = judge(cut_path)
    assert row.reason == f"truncated: decoded 0.00 s of {SECONDS:.2f} s declared (0 of {int(SECONDS * SR)} frames)"
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 2), np.float32), SR)
    assert reason_code(judge(empty).reason) == Reason.NO_AUDIO.value  # declared 0: truly empty


def test_wav_with_a_chunk_after_its_data_is_not_truncated(tmp_path: Path) -> None:
    path = write(tmp_path / "a.wav", "WAV", "PCM_16", seconds=2.0)
    data = bytearray(path.read_bytes())
    data += b"LIST" + (12).to_bytes(4, "little") + b"INFOISFT\x00\x00\x00\x00"
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert decode(path).truncation is None
    assert judge(path).status == "ok"


def test_ogg_end_of_stream_tell(tmp_path: Path) -> None:
    path = write(tmp_path / "a.ogg", "OGG", "VORBIS")
    assert ogg_stream_ended(path)
    for fraction in (0.3, 0.6, 0.99):
        assert not ogg_stream_ended(cut(path, fraction, f"cut-{fraction}.ogg"))
    padded = tmp_path / "padded.ogg"
    padded.write_bytes(path.read_bytes() + b"\x00" * 10)  # padding after the flagged page is no cut
    assert ogg_stream_ended(padded)
    assert judge(padded).status == "ok"
