"""Separating a track file to stem files with memory bounded by a window of chunks, not the track.

`separate_track` holds the whole track several times (mixture, normalised copy, (4, 2, N) output and its
de-normalised copy: ~180 MB per audio minute). Here the track is read from disk twice:

1. pass 1 streams the mixture once to find the mean and std of its mono downmix (`apply.MonoStats`, the same
   numbers `separate_track` uses; the published inference normalises by the whole track) and to run the
   truncation check of `read_audio`
   (`mixrep.audio.stream_blocks`: the same reasons), before any inference;
2. pass 2 streams it again, cuts the same chunks as `apply.overlap_add` (a short last chunk centred in a full
   window with real audio before it), runs `batch_size` at a time through the model, and adds their weighted
   outputs into a rolling buffer; the samples before the next chunk's offset are final, so they are divided by
   the summed weight, de-normalised and written out, and dropped.

The arithmetic per sample is the one of `separate_track` (same float32 operations in the same order, the same
mean and std), so the outputs are identical for 44.1 kHz inputs. Stems are written by `StemSink`: float32 WAV directly; flac24 through a float WAV per stem,
converted in a second streaming pass once the stem's peak (hence its power-of-two gain) is known.

Inputs at other sample rates are converted whole (`load_audio`: resampling needs the signal around each
block), then streamed from memory: their memory still grows with length. `shifts > 0` has no streaming
form here (each shifted pass would need its own output) and uses `separate_track` on the whole track.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mixrep.audio import (STEM_FORMATS, STEM_GAINS_FILE, AudioError, flac24_gain_of_peak, float_wav_to_flac24,
                          load_audio, open_float_wav, probe, stream_blocks, to_pipeline_channels)
from mixrep.devices import resolve_device
from mixrep.separation.apply import ApplySettings, MonoStats, model_chunk_fn, separate_track, triangular_weight
from mixrep.stems import SAMPLE_RATE, STEMS

BlockSource = Callable[[], Iterator[np.ndarray]]  # a fresh iterator of (2, n) float32 blocks per call


def pipeline_blocks(path: str | Path) -> tuple[BlockSource, bool]:
    """A re-startable source of the file's pipeline-format blocks, and whether it streams from disk.

    At 44.1 kHz the blocks are read from the file (mono duplicated, first two channels kept, as
    `to_pipeline_format`); at another rate the whole file is converted once with `load_audio` and cut into
    blocks (resampling needs context across blocks: bounded memory is not provided for those).
    """
    info = probe(path)
    if info.sample_rate == SAMPLE_RATE:
        return (lambda: (to_pipeline_channels(block) for block in stream_blocks(path))), True
    audio, _ = load_audio(path)

    def from_memory() -> Iterator[np.ndarray]:
        for start in range(0, audio.shape[1], 1 << 16):
            yield audio[:, start:start + (1 << 16)]

    return from_memory, False


class SlidingInput:
    """The samples [base, base + len) of a block stream; windows are asked for with non-decreasing starts."""

    def __init__(self, blocks: Iterator[np.ndarray], channels: int = 2):
        self.blocks = blocks
        self.buffer = np.zeros((channels, 0), dtype=np.float32)
        self.base = 0
        self.ended = False

    def _fill(self, stop: int) -> None:
        parts = [self.buffer]
        have = self.base + self.buffer.shape[1]
        while have < stop and not self.ended:
            block = next(self.blocks, None)
            if block is None:
                self.ended = True
                break
            parts.append(block)
            have += block.shape[1]
        if len(parts) > 1:
            self.buffer = np.concatenate(parts, axis=1)

    def window(self, start: int, segment: int, total: int) -> np.ndarray:
        """mix[:, start:start + segment] with zeros outside [0, total), and drop what lies before `start`."""
        lo, hi = max(0, start), min(total, start + segment)
        self._fill(hi)
        drop = max(0, lo - self.base)
        self.buffer, self.base = self.buffer[:, drop:], self.base + drop
        out = np.zeros((self.buffer.shape[0], segment), dtype=np.float32)
        out[:, lo - start:hi - start] = self.buffer[:, lo - self.base:hi - self.base]
        return out


@dataclass
class RollingOutput:
    """Overlap-add of chunk outputs into a buffer that starts at `base`; `release` hands out finished samples."""

    sources: int
    channels: int
    out: torch.Tensor = field(init=False)
    weight_sum: torch.Tensor = field(init=False)
    base: int = 0

    def __post_init__(self) -> None:
        self.out = torch.zeros(self.sources, self.channels, 0)
        self.weight_sum = torch.zeros(0)

    def add(self, offset: int, weighted: torch.Tensor, weight: torch.Tensor) -> None:
        end = offset + weighted.shape[-1] - self.base
        if end > self.out.shape[-1]:
            grow = end - self.out.shape[-1]
            self.out = torch.cat([self.out, torch.zeros(self.sources, self.channels, grow)], dim=-1)
            self.weight_sum = torch.cat([self.weight_sum, torch.zeros(grow)])
        lo = offset - self.base
        self.out[..., lo:end] += weighted
        self.weight_sum[lo:end] += weight

    def release(self, upto: int) -> torch.Tensor:
        """out / weight_sum of the samples [base, upto), which no later chunk touches."""
        n = upto - self.base
        done = self.out[..., :n] / self.weight_sum[:n]
        self.out, self.weight_sum = self.out[..., n:], self.weight_sum[n:]
        self.base = upto
        return done


def stream_separate(fn: Callable[[torch.Tensor], torch.Tensor], blocks: Iterator[np.ndarray], total: int,
                    num_sources: int, mean: torch.Tensor, std: torch.Tensor, settings: ApplySettings,
                    device: torch.device, sample_rate: int = SAMPLE_RATE) -> Iterator[torch.Tensor]:
    """Yield the de-normalised (S, 2, n) estimates in order, as `separate_track` computes them (shifts 0)."""
    segment = int(round(settings.segment_s * sample_rate))
    stride = max(1, int((1 - settings.overlap) * segment))
    weight = triangular_weight(segment, settings.transition_power)
    # normalise the real samples, then pad windows with zeros: the order of `separate_track`
    source = SlidingInput((((torch.from_numpy(block) - mean) / std).numpy() for block in blocks))
    output = RollingOutput(num_sources, 2)
    pending: list[tuple[int, int, torch.Tensor]] = []

    def flush(next_offset: int) -> torch.Tensor:
        batch = torch.stack([window for _, _, window in pending]).to(device)
        estimates = fn(batch).to("cpu")
        for (offset, length, _), estimate in zip(pending, estimates):
            left = (segment - length) // 2
            output.add(offset, weight[:length] * estimate[..., left:left + length], weight[:length])
        pending.clear()
        return output.release(min(next_offset, total)) * std + mean

    for offset in range(0, total, stride):
        length = min(segment, total - offset)
        start = offset - (segment - length) // 2
        pending.append((offset, length, torch.from_numpy(source.window(start, segment, total))))
        if len(pending) == settings.batch_size:
            yield flush(offset + stride)
    if pending:
        yield flush(total)
    for _ in source.blocks:  # read to the end: the truncation check of `stream_blocks` runs after the last block
        pass


class StemSink:
    """Writes (4, 2, n) blocks in STEMS order into a stem folder in a format of STEM_FORMATS.

    Files are written under temporary names and renamed by `close`, so a failed track leaves no stems. flac24
    goes through one float WAV per stem (4 bytes a sample, on the same disk) while the stem's peak is found;
    `close` converts each with its `flac24_gain` in a second streaming pass: the bytes of `write_stems`.
    """

    def __init__(self, stem_dir: str | Path, stem_format: str, sample_rate: int = SAMPLE_RATE):
        if stem_format not in STEM_FORMATS:
            raise ValueError(f"stem format must be one of {sorted(STEM_FORMATS)}, got {stem_format!r}")
        self.stem_dir = Path(stem_dir)
        self.stem_format = stem_format
        self.sample_rate = sample_rate
        self.frames = 0
        self.peaks = [0.0] * len(STEMS)
        self.temp = [self.stem_dir / f".{name}.partial.wav" for name in STEMS]
        self.handles = [open_float_wav(path, 2, sample_rate) for path in self.temp]

    def write(self, stems: np.ndarray) -> None:
        if not np.all(np.isfinite(stems)):
            raise ValueError("separated stems hold NaN or infinite values")
        for k, (handle, stem) in enumerate(zip(self.handles, stems)):
            handle.write(np.ascontiguousarray(stem.T))
            if stem.size:
                self.peaks[k] = max(self.peaks[k], float(np.max(np.abs(stem))))
        self.frames += stems.shape[-1]

    def _close_handles(self) -> None:
        for handle in self.handles:
            if not handle.closed:
                handle.close()

    def abort(self) -> None:
        self._close_handles()
        for path in self.temp:
            path.unlink(missing_ok=True)

    def close(self) -> int:
        """Finish the files (the other format's files removed, as `write_stems`); return frames per stem."""
        self._close_handles()
        ext = STEM_FORMATS[self.stem_format]
        for other in {".wav", ".flac"} - {ext}:
            for name in STEMS:
                (self.stem_dir / f"{name}{other}").unlink(missing_ok=True)
        if ext == ".wav":
            (self.stem_dir / STEM_GAINS_FILE).unlink(missing_ok=True)
            for name, path in zip(STEMS, self.temp):
                os.replace(path, self.stem_dir / f"{name}.wav")
            return self.frames
        gains = {}
        try:
            for name, path, peak in zip(STEMS, self.temp, self.peaks):
                gains[name] = flac24_gain_of_peak(peak)
                float_wav_to_flac24(path, self.stem_dir / f"{name}.flac", gains[name])
        finally:
            for path in self.temp:
                path.unlink(missing_ok=True)
        (self.stem_dir / STEM_GAINS_FILE).write_text(json.dumps(gains, sort_keys=True) + "\n")
        return self.frames


def _drain(blocks: Iterator[np.ndarray], sink: StemSink) -> int:
    try:
        for block in blocks:
            sink.write(block)
    except BaseException:
        sink.abort()
        raise
    return sink.close()


def separate_file(model: torch.nn.Module, path: str | Path, stem_dir: str | Path, settings: ApplySettings,
                  stem_format: str = "flac24", device: torch.device | None = None) -> int:
    """Separate the mixture file `path` into stem files in `stem_dir`; return the samples per stem.

    Equal to `write_stems(stem_dir, separate_track(model, load_audio(path)[0], settings))` within the float32
    rounding of the normalisation (module docstring), with memory bounded by one batch of chunks at 44.1 kHz.
    """
    device = device or resolve_device(settings.device)
    model = model.to(device).eval()
    source, _ = pipeline_blocks(path)
    if settings.shifts > 0:  # no streaming form: the whole track, as before
        mixture = np.concatenate(list(source()), axis=1)
        stems = separate_track(model, mixture, settings, device)
        sink = StemSink(stem_dir, stem_format)
        return _drain(iter([stems]), sink)
    stats = MonoStats()
    for block in source():  # pass 1: statistics and the truncation check
        stats.add(block)
    mean, std = stats.normalisation()
    if stats.count == 0:
        raise AudioError(path, "no audio frames")
    order = [list(model.sources).index(name) for name in STEMS]
    estimates = stream_separate(model_chunk_fn(model), source(), stats.count, len(model.sources), mean, std,
                                settings, device)
    return _drain((block[order].numpy() for block in estimates), StemSink(stem_dir, stem_format))


def write_blocks(blocks: Iterable[np.ndarray], stem_dir: str | Path, stem_format: str = "flac24") -> int:
    """Write (4, 2, n) float32 blocks in STEMS order as the stems of `stem_dir`; return the samples per stem.

    The stem writer for a separator of its own (`separator.py`): no partial files when a block fails.
    """
    return _drain(iter(blocks), StemSink(stem_dir, stem_format))


def _stem_paths(stem_dir: Path) -> list[Path]:
    from mixrep.audio import stem_ext

    ext = stem_ext(stem_dir)
    return [stem_dir / f"{name}{ext}" for name in STEMS]


def copy_stems(stem_dir_in: str | Path, stem_dir: str | Path, stem_format: str = "flac24") -> int:
    """The oracle: stream the true stems of a folder (`read_stems`' formats and gains) into `stem_dir`.

    One block of each stem at a time; the stems must have the same length (`read_stems`' error otherwise).
    """
    from mixrep.audio import read_stem_gains, read_stems, stem_ext

    stem_dir_in = Path(stem_dir_in)
    paths = _stem_paths(stem_dir_in)
    infos = [probe(path) for path in paths]
    if any(info.sample_rate != SAMPLE_RATE for info in infos):  # resampled whole, as `read_stems`
        return _drain(iter([read_stems(stem_dir_in)]), StemSink(stem_dir, stem_format))
    gains = read_stem_gains(stem_dir_in) if stem_ext(stem_dir_in) == ".flac" else {}
    scales = [np.float32(gains.get(name, 1.0)) for name in STEMS]
    lengths = [info.frames for info in infos]
    if any(n != lengths[0] for n in lengths):
        raise AudioError(stem_dir_in, f"stems differ in length ({lengths} samples)")
    total = lengths[0]

    def blocks() -> Iterator[np.ndarray]:
        streams = [pipeline_blocks(path)[0]() for path in paths]
        inputs = [SlidingInput(stream) for stream in streams]
        for start in range(0, total, 1 << 16):
            n = min(1 << 16, total - start)
            parts = [item.window(start, n, total) for item in inputs]
            yield np.stack([part * scale if scale != 1.0 else part for part, scale in zip(parts, scales)])
        for stream in streams:  # finish each stream: its truncation check
            for _ in stream:
                pass

    return _drain(blocks(), StemSink(stem_dir, stem_format))
