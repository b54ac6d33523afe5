"""Training data for the separator: the corpus's true stems, random segments, remix augmentation.

Segments are read from disk on demand (soundfile seeks into the WAV), so the training set never sits in
memory whole and a larger corpus costs disk reads, not RAM. Augmentation follows the published recipe
(Demucs/SCNet `augment.py`) where it fits a small budget:
- remix: every source of an example comes from an independently drawn track and offset, so mixtures are
  new combinations (the official Remix shuffles sources between the examples of a batch group);
- random gain per source, uniform in [gain_min, gain_max] (official Scale: 0.25 .. 1.25);
- random left/right swap and sign flip per source (official FlipChannels / FlipSign);
- `active_only`: with remix, each source is drawn from the tracks where that source is active (not silent
  against the track's mixture). A corpus where a third of the tracks have no vocals would otherwise teach
  "vocals = silence" a third of the time; the silent tracks still train the other sources.
The mixture of a training example is the sum of its (augmented) sources, as in the official solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from mixrep.audio import AudioError, probe
from mixrep.errors import Rejected
from mixrep.separation.scnet_entry import SCNET_ORDER, AugmentSettings
from mixrep.stems import SAMPLE_RATE


@dataclass(frozen=True)
class StemTrack:
    """One track usable for training: the stem files in SCNet order and their common length."""

    track_id: str
    files: tuple[Path, ...]
    frames: int
    scale: float = 1.0  # std of the track's mono mixture; segments are divided by it
    active: tuple[bool, ...] = ()  # per source (file order): not silent against the mixture; () = all active


def split_rows(manifest: pd.DataFrame, split: str) -> pd.DataFrame:
    """`ok` rows of one split that have true stems, sorted by track id."""
    required = {"track_id", "split", "status", "stems_dir"}
    missing = required - set(manifest.columns)
    if missing:
        raise ValueError(f"manifest lacks columns {sorted(missing)}")
    rows = manifest[(manifest["status"] == "ok") & (manifest["split"] == split)]
    return rows.sort_values("track_id").reset_index(drop=True)


def index_stems(manifest: pd.DataFrame, split: str, sources: tuple[str, ...] = SCNET_ORDER
                ) -> tuple[list[StemTrack], list[Rejected]]:
    """The tracks of `split` whose stems are 44.1 kHz WAVs of one length; the rest with their reason."""
    tracks, rejected = [], []
    for row in split_rows(manifest, split).itertuples(index=False):
        if row.stems_dir is None or (isinstance(row.stems_dir, float) and np.isnan(row.stems_dir)):
            rejected.append(Rejected(row.track_id, "no true stems (stems_dir is null)"))
            continue
        files = tuple(Path(row.stems_dir) / f"{name}.wav" for name in sources)
        try:
            infos = [probe(path) for path in files]
        except AudioError as exc:
            rejected.append(Rejected(row.track_id, str(exc)))
            continue
        bad = next((i for i in infos if i.sample_rate != SAMPLE_RATE or i.channels not in (1, 2)), None)
        if bad is not None:
            rejected.append(Rejected(row.track_id, f"{bad.path}: {bad.sample_rate} Hz, {bad.channels} channels "
                                                   f"(training reads 44.1 kHz mono/stereo stems)"))
            continue
        tracks.append(StemTrack(row.track_id, files, min(i.frames for i in infos)))
    return tracks, rejected


def read_segment(path: Path, start: int, frames: int) -> np.ndarray:
    """(2, frames) float32 from `start`; mono duplicated, zero-padded past the end."""
    data, _ = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    data = data.T
    if data.shape[0] == 1:
        data = np.repeat(data, 2, axis=0)
    if data.shape[1] < frames:
        data = np.pad(data, ((0, 0), (0, frames - data.shape[1])))
    return np.ascontiguousarray(data[:2])


class SegmentSampler:
    """Draws training batches (B, sources, 2, frames) from a seeded generator; same seed, same batches."""

    def __init__(self, tracks: list[StemTrack], segment_frames: int, augment: AugmentSettings, seed: int):
        if not tracks:
            raise ValueError("no training tracks with stems")
        self.tracks = tracks
        self.segment = segment_frames
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        num_sources = len(tracks[0].files)
        everyone = list(range(len(tracks)))
        # per source, the tracks it may be drawn from (all of them when none is marked active)
        self.pools = []
        for index in range(num_sources):
            pool = [k for k, t in enumerate(tracks) if not t.active or t.active[index]]
            self.pools.append(pool if (augment.active_only and pool) else everyone)

    def _offset(self, track: StemTrack) -> int:
        return int(self.rng.integers(0, max(1, track.frames - self.segment + 1)))

    def example(self) -> np.ndarray:
        num_sources = len(self.tracks[0].files)
        sources = np.empty((num_sources, 2, self.segment), dtype=np.float32)
        shared = self.tracks[int(self.rng.integers(len(self.tracks)))]
        shared_offset = self._offset(shared)
        for index in range(num_sources):
            if self.augment.remix:
                pool = self.pools[index]
                track = self.tracks[pool[int(self.rng.integers(len(pool)))]]
                offset = self._offset(track)
            else:
                track, offset = shared, shared_offset
            wave = read_segment(track.files[index], offset, self.segment)
            if self.augment.flip_channels and self.rng.random() < 0.5:
                wave = wave[::-1]
            gain = self.rng.uniform(self.augment.gain_min, self.augment.gain_max)
            if self.augment.flip_sign and self.rng.random() < 0.5:
                gain = -gain
            sources[index] = wave * np.float32(gain / track.scale)
        return sources

    def batch(self, size: int) -> np.ndarray:
        return np.stack([self.example() for _ in range(size)])
