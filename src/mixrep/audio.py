"""Audio input/output with soundfile, and conversion to the pipeline's format.

Inside the pipeline audio is float32, shape (2, samples), 44.1 kHz (DESIGN.md). Every reader here raises
`AudioError` naming the file and the problem, never a bare library traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from mixrep.stems import SAMPLE_RATE

_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sf_command code (sndfile.h)


class AudioError(Exception):
    """A file that cannot be used as audio, with the reason."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class AudioInfo:
    """What the file header says."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe(path: str | Path) -> AudioInfo:
    """Read the header only."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types; all mean "not readable audio"
        raise AudioError(path, f"unreadable or not an audio file ({exc.__class__.__name__}: {exc})") from None
    return AudioInfo(str(path), int(info.samplerate), int(info.channels), int(info.frames),
                     str(info.format), str(info.subtype))


def read_audio(path: str | Path, *, check_frames: bool = True) -> tuple[np.ndarray, int]:
    """Decode a whole file to float32 (channels, samples).

    With `check_frames`, a file that decodes to fewer frames than its header announces is an error:
    soundfile reads a truncated MP3 without raising, so the count is the only tell.
    """
    info = probe(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(path, f"decoding failed ({exc.__class__.__name__}: {exc})") from None
    if check_frames and info.frames > 0 and data.shape[0] < info.frames:
        raise AudioError(path, f"truncated: decoded {data.shape[0]} of {info.frames} frames")
    return np.ascontiguousarray(data.T), int(rate)


def to_pipeline_format(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """Resample to 44.1 kHz and make stereo; return the audio and notes of what was changed."""
    notes: list[str] = []
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.shape[0] == 1:
        audio = np.repeat(audio, 2, axis=0)
        notes.append("mono duplicated to stereo")
    elif audio.shape[0] > 2:
        notes.append(f"kept the first 2 of {audio.shape[0]} channels")
        audio = audio[:2]
    if sample_rate != SAMPLE_RATE:
        g = gcd(int(sample_rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(sample_rate) // g, axis=1).astype(np.float32)
        notes.append(f"resampled {sample_rate} Hz -> {SAMPLE_RATE} Hz")
    return np.ascontiguousarray(audio, dtype=np.float32), notes


def load_audio(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read a file and convert it to the pipeline format (float32, (2, N), 44.1 kHz)."""
    data, rate = read_audio(path)
    return to_pipeline_format(data, rate)


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
                subtype: str = "FLOAT") -> Path:
    """Write (channels, samples) audio; float WAV by default so no value is clipped or rounded."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    with sf.SoundFile(str(path), "w", sample_rate, audio.shape[0], subtype=subtype) as handle:
        if subtype in ("FLOAT", "DOUBLE"):
            # libsndfile stamps float WAVs with a PEAK chunk holding the time of writing; without it the
            # same audio gives the same bytes (reproducible outputs, stable hashes).
            sf._snd.sf_command(handle._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        handle.write(audio.T)
    return path


def read_stems(stem_dir: str | Path, ext: str = ".wav") -> np.ndarray:
    """The four stems of one track folder as float32 (4, 2, N) in STEMS order (pipeline format)."""
    from mixrep.stems import STEMS

    stems = []
    for name in STEMS:
        audio, _ = load_audio(Path(stem_dir) / f"{name}{ext}")
        stems.append(audio)
    length = min(s.shape[1] for s in stems)
    if any(s.shape[1] != length for s in stems):
        raise AudioError(stem_dir, f"stems differ in length ({[s.shape[1] for s in stems]} samples)")
    return np.stack(stems)


def write_stems(stem_dir: str | Path, stems: np.ndarray, sample_rate: int = SAMPLE_RATE,
                ext: str = ".wav") -> list[Path]:
    """Write (4, 2, N) stems in STEMS order as <stem_dir>/<stem><ext> (float WAV: exact)."""
    from mixrep.stems import STEMS

    if stems.shape[0] != len(STEMS):
        raise ValueError(f"expected {len(STEMS)} stems, got array of shape {stems.shape}")
    return [write_audio(Path(stem_dir) / f"{name}{ext}", stem, sample_rate) for name, stem in zip(STEMS, stems)]
