"""Probe and decode every candidate file once, and decide whether it can be used.

A file is judged on what its audio really holds, not on what its header or the dataset's metadata claim:
a cut file decodes without an error in most formats (libsndfile even shrinks a cut WAV's header count to
what is left), so `mixrep.audio.decode` compares the decoded frames with what the container declares
(or, for Ogg, looks for the end-of-stream page) and the manifest rejects it as `truncated`; FMA ships files that are much shorter than their listing or hold no audio. Every problem becomes a
rejected manifest row with a reason (`Reason`), never an exception, so one bad file cannot stop a run.
Conversions the pipeline will apply later (`mixrep.audio.load_audio`: resampling, mono to stereo) are
not done here, only recorded in `notes`.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Iterator, Sequence

import numpy as np

from mixrep.audio import AudioError, AudioInfo, decode, declared_frames, probe
from mixrep.datasets.records import OK, REJECTED, Candidate, ManifestRow, Reason
from mixrep.stems import SAMPLE_RATE


@dataclass(frozen=True)
class InspectOptions:
    """Thresholds of the checks.

    Args:
        min_duration_s: shorter tracks are rejected (one training / feature segment by default).
        silence_peak_dbfs: a file whose absolute peak does not exceed this level is digital silence.
        listed_fraction: reject a file that decodes to less than this fraction of the duration its
            dataset lists (FMA's defective clips); ignored where nothing is listed.
    """

    min_duration_s: float
    silence_peak_dbfs: float = -120.0
    listed_fraction: float = 0.5

    @property
    def silence_peak(self) -> float:
        return 10.0 ** (self.silence_peak_dbfs / 20.0)


def conversion_notes(sample_rate: int, channels: int) -> list[str]:
    """What `mixrep.audio.to_pipeline_format` will change when this file is loaded (same wording)."""
    notes: list[str] = []
    if channels == 1:
        notes.append("mono duplicated to stereo")
    elif channels > 2:
        notes.append(f"kept the first 2 of {channels} channels")
    if sample_rate != SAMPLE_RATE:
        notes.append(f"resampled {sample_rate} Hz -> {SAMPLE_RATE} Hz")
    return notes


def _stem_problem(candidate: Candidate, mixture: AudioInfo) -> str | None:
    """Header-only check of the true stems: readable, and as long as the mixture at the same rate."""
    for name, path in candidate.stem_files:
        try:
            info = probe(path)
        except AudioError as exc:
            return Reason.STEM_UNREADABLE.with_detail(f"{name}: {exc.problem}")
        if info.sample_rate != mixture.sample_rate or info.frames != mixture.frames:
            return Reason.STEM_MISMATCH.with_detail(
                f"{name} has {info.frames} frames at {info.sample_rate} Hz, "
                f"mixture {mixture.frames} frames at {mixture.sample_rate} Hz")
    return None


def _decoded_problem(audio: np.ndarray, rate: int, truncation: str | None, candidate: Candidate,
                     options: InspectOptions) -> str | None:
    """The checks on the decoded samples, in order: structure (truncation first), content, length."""
    frames = audio.shape[1]
    duration = frames / rate
    if truncation is not None:
        return Reason.TRUNCATED.with_detail(truncation)
    if frames == 0:
        return Reason.NO_AUDIO.with_detail("the file decodes to 0 frames")
    finite = np.isfinite(audio)
    if not finite.all():
        return Reason.NON_FINITE.with_detail(f"{int((~finite).sum())} NaN/Inf samples")
    peak = float(np.max(np.abs(audio)))
    if peak <= options.silence_peak:
        level = "-inf" if peak == 0.0 else f"{20 * math.log10(peak):.1f}"
        return Reason.SILENT.with_detail(f"peak {level} dBFS <= {options.silence_peak_dbfs:g} dBFS")
    if duration < options.min_duration_s:
        return Reason.TOO_SHORT.with_detail(f"{duration:.2f} s < {options.min_duration_s:g} s")
    listed = candidate.expected_duration_s
    if listed and duration < options.listed_fraction * listed:
        return Reason.SHORTER_THAN_LISTED.with_detail(f"decoded {duration:.2f} s, listed {listed:.2f} s")
    return None


def inspect_candidate(candidate: Candidate, options: InspectOptions) -> ManifestRow:
    """Probe the header, check the stems' headers, decode the mixture once, and judge it."""
    if candidate.reason is not None:
        return ManifestRow.from_candidate(candidate, status=REJECTED, reason=candidate.reason)
    try:
        info = probe(candidate.path)
    except AudioError as exc:
        return ManifestRow.from_candidate(candidate, status=REJECTED,
                                          reason=Reason.UNREADABLE.with_detail(exc.problem))
    header = dict(duration_s=info.duration_s, sample_rate=info.sample_rate, channels=info.channels)
    if info.frames <= 0:
        declared = declared_frames(candidate.path, info)
        reason = (Reason.TRUNCATED.with_detail(f"decoded 0.00 s of {declared / info.sample_rate:.2f} s "
                                               f"declared (0 of {declared} frames)")
                  if declared else Reason.NO_AUDIO.with_detail("the header announces 0 frames"))
        return ManifestRow.from_candidate(candidate, status=REJECTED, **header, reason=reason)
    problem = _stem_problem(candidate, info)
    if problem is None:
        try:
            decoded = decode(candidate.path)
        except AudioError as exc:
            problem = Reason.DECODE_FAILED.with_detail(exc.problem)
        except (MemoryError, OSError, RuntimeError, ValueError) as exc:
            problem = Reason.DECODE_FAILED.with_detail(f"{exc.__class__.__name__}: {exc}")
        else:
            header["duration_s"] = decoded.audio.shape[1] / decoded.sample_rate
            problem = _decoded_problem(decoded.audio, decoded.sample_rate, decoded.truncation, candidate,
                                       options)
    if problem is not None:
        return ManifestRow.from_candidate(candidate, status=REJECTED, reason=problem, **header)
    notes = conversion_notes(info.sample_rate, info.channels)
    return ManifestRow.from_candidate(candidate, status=OK, notes="; ".join(notes) or None, **header)


def inspect_all(candidates: Sequence[Candidate], options: InspectOptions, jobs: int = 1) -> list[ManifestRow]:
    """Inspect every candidate (in order); `jobs` > 1 decodes in a pool of that many processes."""
    check = partial(inspect_candidate, options=options)
    pending = [c for c in candidates if c.reason is None]
    if jobs <= 1 or len(pending) <= 1:
        return [check(c) for c in candidates]
    chunksize = max(1, len(pending) // (jobs * 8))
    # spawn, not fork: forking a process that already runs library threads can deadlock the child
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        decoded: Iterator[ManifestRow] = iter(list(pool.map(check, pending, chunksize=chunksize)))
    return [next(decoded) if c.reason is None else check(c) for c in candidates]
