"""A person's audio file, read in chunks in the pipeline format (float32 (2, n), 44.1 kHz).

Long files must not need memory that grows with their length, so nothing here holds the whole file: the file is
first scanned block by block (is it readable, long enough, finite, not silent?), then delivered chunk by chunk.
A file at another rate is resampled chunk by chunk with scipy's polyphase filter; each chunk is read with
`CONTEXT_S` of real audio on both sides and the resampled context is cut off again, so chunk edges carry no
filter transients and the chunks join into one continuous signal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from mixrep.audio import AudioError, declared_frames, probe
from mixrep.stems import SAMPLE_RATE

MIN_SECONDS = 3.0  # one analysis window (and one short-term loudness window)
SILENCE_DBFS = -90.0  # a file whose RMS is below this is silent
CONTEXT_S = 0.05  # real audio read beyond each chunk edge for the resampling filter
_SCAN_BLOCK = 1 << 16


@dataclass
class InputInfo:
    """What the scan found, and what will be converted (the notes are reported to the user)."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    subtype: str
    peak_dbfs: float
    rms_dbfs: float
    notes: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def output_frames(self) -> int:
        """Frames at 44.1 kHz."""
        return int(np.ceil(self.frames * SAMPLE_RATE / self.sample_rate))


def scan(path: str | Path, min_seconds: float = MIN_SECONDS, allow_silent: bool = False) -> InputInfo:
    """Check a file without holding it: readable, not empty, not cut, long enough, finite, not silent.

    Raises AudioError(path, reason) with a reason a person can act on.
    `allow_silent` is for given stems (a track without vocals has a silent vocal stem).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(path, "no such file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    info = probe(path)
    if info.frames <= 0:
        raise AudioError(path, "holds no audio frames")
    declared = declared_frames(path, info)
    if declared is not None and declared > info.frames:
        raise AudioError(path, f"truncated: header declares {declared} frames, the file holds {info.frames}")
    if info.duration_s < min_seconds:
        raise AudioError(path, f"too short: {info.duration_s:.2f} s, need at least {min_seconds:g} s")
    peak, energy, done = 0.0, 0.0, 0
    try:
        with sf.SoundFile(str(path)) as handle:
            for block in handle.blocks(blocksize=_SCAN_BLOCK, dtype="float32", always_2d=True):
                if not np.isfinite(block).all():
                    bad = done + int(np.argmax(~np.isfinite(block).all(axis=1)))
                    raise AudioError(path, f"non-finite samples (NaN or infinity) from {bad / info.sample_rate:.2f} s")
                peak = max(peak, float(np.max(np.abs(block))) if block.size else 0.0)
                energy += float(np.sum(block.astype(np.float64) ** 2))
                done += block.shape[0]
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises several types for a damaged stream
        raise AudioError(path, f"decoding failed after {done} frames ({exc.__class__.__name__}: {exc})") from None
    if done == 0:
        raise AudioError(path, "holds no audio frames")
    rms = np.sqrt(energy / (done * info.channels))
    rms_db = 20 * np.log10(rms) if rms > 0 else -np.inf
    if rms_db < SILENCE_DBFS and not allow_silent:  # a given stem may be silent; a mix may not
        raise AudioError(path, f"silent (RMS {rms_db:.1f} dBFS, below {SILENCE_DBFS:g} dBFS)")
    notes = []
    if info.channels == 1:
        notes.append("mono duplicated to stereo")
    elif info.channels > 2:
        notes.append(f"kept the first 2 of {info.channels} channels")
    if info.sample_rate != SAMPLE_RATE:
        notes.append(f"resampled {info.sample_rate} Hz -> {SAMPLE_RATE} Hz (scipy polyphase, once, chunk by chunk)")
    return InputInfo(str(path), info.sample_rate, info.channels, done, info.subtype,
                     float(20 * np.log10(peak)) if peak > 0 else -np.inf, float(rms_db), notes)


def _stereo(block: np.ndarray) -> np.ndarray:
    """(frames, channels) -> (2, frames)."""
    if block.shape[1] == 1:
        block = np.repeat(block, 2, axis=1)
    return np.ascontiguousarray(block[:, :2].T, dtype=np.float32)


def iter_chunks(info: InputInfo, chunk_s: float) -> Iterator[tuple[int, np.ndarray]]:
    """(start frame at 44.1 kHz, (2, n) float32) for consecutive chunks of `chunk_s` seconds of the file."""
    rate = info.sample_rate
    g = gcd(rate, SAMPLE_RATE)
    up, down = SAMPLE_RATE // g, rate // g
    step_in = int(round(chunk_s * rate))
    context = int(round(CONTEXT_S * rate)) if rate != SAMPLE_RATE else 0
    out_start = 0
    with sf.SoundFile(info.path) as handle:
        for lo in range(0, info.frames, step_in):
            hi = min(info.frames, lo + step_in)
            a, b = max(0, lo - context), min(info.frames, hi + context)
            handle.seek(a)
            block = _stereo(handle.read(b - a, dtype="float32", always_2d=True))
            if rate != SAMPLE_RATE:
                block = resample_poly(block, up, down, axis=1).astype(np.float32)
                first = int(round(lo * SAMPLE_RATE / rate)) - int(round(a * SAMPLE_RATE / rate))
                count = int(round(hi * SAMPLE_RATE / rate)) - int(round(lo * SAMPLE_RATE / rate))
                block = block[:, first:first + count]
            count = block.shape[1]
            yield out_start, np.ascontiguousarray(block)
            del block  # not held while the next chunk is read
            out_start += count
