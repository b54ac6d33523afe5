"""Applying a separator to whole tracks: normalisation, chunking, overlap-add, device, shifts.

Kept apart from the model (Demucs/SCNet habit). What the published inference does, and what is kept:
- the mixture is normalised by the mean and std of its mono downmix over the whole track, and the
  estimates are de-normalised with the same numbers (official `inference.py`); they are summed in float64
  over fixed blocks (`MonoStats`), so the streaming path finds the same two numbers;
- the track is cut into chunks of `segment_s` seconds every `(1 - overlap) * segment_s`; a chunk shorter
  than a segment (the end of the track) is extended with real audio before it and zeros after, and only
  its own span of the output is kept (official `apply.py`);
- the chunk outputs are cross-faded with a triangular weight (raised to `transition_power`) and divided
  by the summed weight;
- the published inference draws random time shifts; here `shifts = 0` (the default) means none, so the
  output is deterministic; `shifts > 0` averages that many shifted passes drawn from `seed`.
Activations stay bounded for long inputs: chunks are cut lazily, `batch_size` at a time go through the model,
and their outputs are added into one output buffer. The whole-track buffers (input, output) still grow with
the track; the shard job streams from file to stem files instead (`mixrep.separation.stream`, same numbers).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from mixrep.devices import resolve_device
from mixrep.separation.separator import InferenceSettings
from mixrep.stems import SAMPLE_RATE, STEMS

ChunkFn = Callable[[torch.Tensor], torch.Tensor]  # (B, C, segment) -> (B, S, C, segment)


STATS_BLOCK = 1 << 16  # samples per partial sum of MonoStats: fixed, so the numbers do not depend on how blocks come


@dataclass
class MonoStats:
    """Mean and unbiased std of a track's mono downmix, merged over fixed blocks of samples in float64.

    Whole-track and streaming separation both use it, so both normalise by exactly the same two float32
    numbers: the mono mean (float32, as torch's `mean(0)`) is cut into `STATS_BLOCK`-sample blocks counted from
    the track's start, whatever sizes `add` is fed, and the blocks are merged (Chan et al.) in float64.
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def add(self, block: np.ndarray) -> None:
        """Add a (2, n) float32 block of the track (blocks in order)."""
        mono = ((block[0] + block[1]) / np.float32(2)).astype(np.float32, copy=False)
        if self.pending.size:  # complete the block begun by earlier calls
            need = STATS_BLOCK - self.pending.size
            self.pending, mono = np.concatenate([self.pending, mono[:need]]), mono[need:]
            if self.pending.size < STATS_BLOCK:
                return
            self._merge(self.pending)
        full = mono.size // STATS_BLOCK * STATS_BLOCK
        for start in range(0, full, STATS_BLOCK):
            self._merge(mono[start:start + STATS_BLOCK])
        self.pending = mono[full:].copy()

    def _merge(self, mono: np.ndarray) -> None:
        values = mono.astype(np.float64)
        n = values.size
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total

    def normalisation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) as float32 scalars after the last block; std 1 for silence or a single sample."""
        if self.pending.size:
            self._merge(self.pending)
            self.pending = self.pending[:0]
        mean = torch.tensor(self.mean, dtype=torch.float32)
        std = torch.tensor(math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else float("nan"),
                           dtype=torch.float32)
        if not torch.isfinite(std) or std <= 0:
            std = torch.tensor(1.0)  # silent (or one-sample) input: nothing to scale
        return mean, std


@dataclass(frozen=True)
class ApplySettings(InferenceSettings):
    """How to run a separator over a track: config `separation.inference`, the job's device and the run's seed."""

    device: str = "auto"  # runtime: the rule's `resources: device` (`--device`), not config
    seed: int = 0

    @classmethod
    def from_config(cls, section: dict | None, seed: int = 0, device: str = "auto") -> "ApplySettings":
        """From the `separation.inference` section (unknown keys refused), the seed and the device."""
        from mixrep.schema import build_settings

        inference = build_settings(InferenceSettings, section, "separation.inference")
        return cls(**asdict(inference), device=device, seed=seed)


def triangular_weight(segment: int, power: float = 1.0) -> torch.Tensor:
    """1, 2, ..., segment/2, ..., 2, 1 scaled to a maximum of 1, raised to `power` (official cross-fade)."""
    half = segment // 2
    ramp = torch.cat([torch.arange(1, half + 1), torch.arange(segment - half, 0, -1)]).float()
    return (ramp / ramp.max()) ** power


def iter_windows(mix: torch.Tensor, segment: int, stride: int) -> Iterator[tuple[int, int, torch.Tensor]]:
    """(offset, length, window) for every chunk; `window` has `segment` samples, the chunk centred in it."""
    total = mix.shape[-1]
    for offset in range(0, total, stride):
        length = min(segment, total - offset)
        start = offset - (segment - length) // 2
        lo, hi = max(0, start), min(total, start + segment)
        yield offset, length, F.pad(mix[..., lo:hi], (lo - start, start + segment - hi))


def overlap_add(fn: ChunkFn, mix: torch.Tensor, num_sources: int, segment: int, overlap: float,
                batch_size: int, transition_power: float = 1.0,
                device: torch.device | None = None) -> torch.Tensor:
    """Run `fn` chunk by chunk over mix (C, N) and cross-fade the outputs into (S, C, N) on mix's device."""
    channels, total = mix.shape
    stride = max(1, int((1 - overlap) * segment))
    weight = triangular_weight(segment, transition_power).to(mix.device)
    out = torch.zeros(num_sources, channels, total, dtype=mix.dtype, device=mix.device)
    weight_sum = torch.zeros(total, dtype=mix.dtype, device=mix.device)
    device = device or mix.device

    def flush(pending: list[tuple[int, int, torch.Tensor]]) -> None:
        batch = torch.stack([window for _, _, window in pending]).to(device)
        estimates = fn(batch).to(mix.device)  # B, S, C, segment
        for (offset, length, _), estimate in zip(pending, estimates):
            left = (segment - length) // 2
            out[..., offset:offset + length] += weight[:length] * estimate[..., left:left + length]
            weight_sum[offset:offset + length] += weight[:length]

    pending: list[tuple[int, int, torch.Tensor]] = []
    for item in iter_windows(mix, segment, stride):
        pending.append(item)
        if len(pending) == batch_size:
            flush(pending)
            pending = []
    if pending:
        flush(pending)
    return out / weight_sum


def apply_separator(fn: ChunkFn, mix: torch.Tensor, num_sources: int, settings: ApplySettings,
                    device: torch.device | None = None, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Chunked inference with optional random shifts (official: up to 0.5 s, opposite shift on the output)."""
    segment = int(round(settings.segment_s * sample_rate))
    kwargs = dict(num_sources=num_sources, segment=segment, overlap=settings.overlap,
                  batch_size=settings.batch_size, transition_power=settings.transition_power, device=device)
    if settings.shifts == 0:
        return overlap_add(fn, mix, **kwargs)
    rng = random.Random(settings.seed)
    max_shift = int(0.5 * sample_rate)
    total = mix.shape[-1]
    padded = F.pad(mix, (max_shift, max_shift))
    out = torch.zeros(num_sources, *mix.shape, dtype=mix.dtype, device=mix.device)
    for _ in range(settings.shifts):
        shift = rng.randint(0, max_shift)
        shifted = padded[..., shift:shift + total + max_shift - shift]
        out += overlap_add(fn, shifted, **kwargs)[..., max_shift - shift:max_shift - shift + total]
    return out / settings.shifts


def model_chunk_fn(model: torch.nn.Module) -> ChunkFn:
    """Wrap a model for inference (no autograd)."""

    def run(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(batch)

    return run


def separate_track(model: torch.nn.Module, mix: np.ndarray, settings: ApplySettings,
                   device: torch.device | None = None) -> np.ndarray:
    """Separate one mixture (2, N) float32 into (4, 2, N) stems in mixrep's STEMS order.

    The model's own source order (`model.sources`, SCNet: drums, bass, other, vocals) is mapped to
    STEMS here, once.
    """
    device = device or resolve_device(settings.device)
    model = model.to(device).eval()
    tensor = torch.from_numpy(np.ascontiguousarray(mix, dtype=np.float32))
    stats = MonoStats()
    stats.add(tensor.numpy())
    mean, std = stats.normalisation()
    normalised = (tensor - mean) / std
    estimates = apply_separator(model_chunk_fn(model), normalised, len(model.sources), settings, device)
    estimates = estimates * std + mean
    order = [list(model.sources).index(name) for name in STEMS]
    return estimates[order].numpy().astype(np.float32, copy=False)
