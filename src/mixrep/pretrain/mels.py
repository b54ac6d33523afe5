"""Per-shard log-Mel store: `results/mels/{shard}.npz`, the pretraining input kept in memory.

Every track × variant of a shard is rendered (mixrep.degrade.iter_variants), cropped to at most
`mel_max_s` seconds around its middle, and analysed by the Mel frontend. Items are concatenated along
time so tracks of any length fit one array.

npz keys:
    mels        float16 (4, 2, n_mels, total_frames)  stems × (mid, side | L, R) × bands × frames, log power
    offsets     int64 (K + 1,)   item k occupies frames offsets[k]:offsets[k+1]
    track_id    str (K,)         track ids (manifest)
    variant_id  int64 (K,)       0 = the unprocessed reference remix
    mel_config  str              JSON of MelConfig (rate, n_fft, hop, bands, stereo, floor)
    crop        str              JSON {"max_s": ..., "placement": "centre"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mixrep.model.frontend import MelConfig, MelFrontend

KEYS = ("mels", "offsets", "track_id", "variant_id", "mel_config", "crop")


@dataclass
class MelShard:
    """Log-Mels of K items, concatenated along time (see the module docstring for the layout)."""

    mels: np.ndarray
    offsets: np.ndarray
    track_id: np.ndarray
    variant_id: np.ndarray
    mel_config: MelConfig
    max_s: float | None

    def __len__(self) -> int:
        return len(self.track_id)

    @property
    def num_frames(self) -> np.ndarray:
        return np.diff(self.offsets)

    def item(self, k: int) -> np.ndarray:
        return self.mels[..., self.offsets[k]:self.offsets[k + 1]]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, mels=self.mels, offsets=self.offsets, track_id=self.track_id.astype(str),
                 variant_id=self.variant_id, mel_config=json.dumps(self.mel_config.to_dict(), sort_keys=True),
                 crop=json.dumps({"max_s": self.max_s, "placement": "centre"}))
        tmp.replace(path)
        return path


def load_mel_shard(path: str | Path) -> MelShard:
    """Read one shard, with an error that names the file when it is not a mel store."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in KEYS if key not in data]
            if missing:
                raise ValueError(f"{path}: not a mixrep mel store (missing keys {missing})")
            return MelShard(mels=data["mels"], offsets=data["offsets"].astype(np.int64),
                            track_id=data["track_id"].astype(str), variant_id=data["variant_id"].astype(np.int64),
                            mel_config=MelConfig(**json.loads(str(data["mel_config"]))),
                            max_s=json.loads(str(data["crop"]))["max_s"])
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: cannot read mel store ({error})") from error


def concat_shards(shards: list[MelShard]) -> MelShard:
    """One store from several (the pretraining input: every shard of the corpus)."""
    if not shards:
        raise ValueError("no mel shards given")
    configs = {json.dumps(s.mel_config.to_dict(), sort_keys=True) for s in shards}
    if len(configs) > 1:
        raise ValueError(f"mel shards were made with different frontends: {sorted(configs)}")
    lengths = [s.offsets[-1] for s in shards]
    starts = np.cumsum([0, *lengths[:-1]])
    offsets = np.concatenate([[0], *[s.offsets[1:] + start for s, start in zip(shards, starts)]])
    return MelShard(mels=np.concatenate([s.mels for s in shards], axis=-1), offsets=offsets.astype(np.int64),
                    track_id=np.concatenate([s.track_id for s in shards]),
                    variant_id=np.concatenate([s.variant_id for s in shards]),
                    mel_config=shards[0].mel_config, max_s=shards[0].max_s)


def load_mel_bank(paths: list[str | Path]) -> MelShard:
    """Every shard in one store, filled shard by shard into one preallocated array.

    Peak memory is the bank plus one shard (concatenating loaded shards would hold the bank twice).
    """
    if not paths:
        raise ValueError("no mel shards given")
    headers = []
    for path in paths:
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [key for key in KEYS if key not in data]
                if missing:
                    raise ValueError(f"{path}: not a mixrep mel store (missing keys {missing})")
                headers.append((data["offsets"].astype(np.int64), str(data["mel_config"])))
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: cannot read mel store ({error})") from error
    configs = sorted({config for _, config in headers})
    if len(configs) > 1:
        raise ValueError(f"mel shards were made with different frontends: {configs}")
    first = load_mel_shard(paths[0])
    if len(paths) == 1:
        return first
    total = int(sum(offsets[-1] for offsets, _ in headers))
    mels = np.empty((*first.mels.shape[:3], total), dtype=np.float16)
    offsets, tracks, variants, cursor = [np.zeros(1, np.int64)], [], [], 0
    for k, path in enumerate(paths):
        shard = first if k == 0 else load_mel_shard(path)
        length = int(shard.offsets[-1])
        mels[..., cursor:cursor + length] = shard.mels
        offsets.append(shard.offsets[1:] + cursor)
        tracks.append(shard.track_id)
        variants.append(shard.variant_id)
        cursor += length
        del shard
    return MelShard(mels=mels, offsets=np.concatenate(offsets), track_id=np.concatenate(tracks),
                    variant_id=np.concatenate(variants), mel_config=first.mel_config, max_s=first.max_s)


def centre_crop(stems: np.ndarray, max_samples: int | None) -> np.ndarray:
    """The middle `max_samples` of (4, 2, N) stems (all of them when shorter or max_samples is None)."""
    n = stems.shape[-1]
    if max_samples is None or n <= max_samples:
        return stems
    start = (n - max_samples) // 2
    return stems[..., start:start + max_samples]


def iter_item_mels(variants: Iterable[tuple[str, int, np.ndarray]], frontend: MelFrontend,
                   max_s: float | None) -> Iterator[tuple[str, int, np.ndarray]]:
    """(track_id, variant_id, stems (4,2,N)) -> (track_id, variant_id, float16 log-Mel (4,2,M,T))."""
    rate = frontend.config.sample_rate
    max_samples = None if max_s is None else int(round(max_s * rate))
    for track_id, variant_id, stems in variants:
        stems = np.asarray(stems, dtype=np.float32)
        if stems.ndim != 3 or stems.shape[:2] != (4, 2):
            raise ValueError(f"{track_id} variant {variant_id}: expected stems (4, 2, N), got {stems.shape}")
        audio = torch.from_numpy(np.ascontiguousarray(centre_crop(stems, max_samples)))[None]
        with torch.inference_mode():
            mel = frontend(audio)[0].numpy()
        yield track_id, int(variant_id), mel.astype(np.float16)


def build_mel_shard(variants: Iterable[tuple[str, int, np.ndarray]], mel_config: MelConfig,
                    max_s: float | None) -> MelShard:
    """Log-Mels of every item yielded by `variants` (in the order given)."""
    frontend = MelFrontend(mel_config)
    tracks: list[str] = []
    variant_ids: list[int] = []
    blocks: list[np.ndarray] = []
    for track_id, variant_id, mel in iter_item_mels(variants, frontend, max_s):
        tracks.append(track_id)
        variant_ids.append(variant_id)
        blocks.append(mel)
    if not blocks:
        mels = np.zeros((4, 2, mel_config.n_mels, 0), dtype=np.float16)
    else:
        mels = np.concatenate(blocks, axis=-1)
    offsets = np.cumsum([0, *[b.shape[-1] for b in blocks]]).astype(np.int64)
    return MelShard(mels=mels, offsets=offsets, track_id=np.array(tracks, dtype=str),
                    variant_id=np.array(variant_ids, dtype=np.int64), mel_config=mel_config, max_s=max_s)
