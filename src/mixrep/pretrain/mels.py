"""Per-shard log-Mel store `results/mels/{shard}.npz`, laid out for random access from disk.

Every track × variant of a shard is rendered (mixrep.degrade.iter_variants), cropped to at most
`mel_max_s` seconds around its middle, and analysed by the Mel frontend. Items are concatenated along
time so tracks of any length fit one array.

The file is an uncompressed npz (np.savez: every member ZIP_STORED), so the `frames` member is a plain .npy
at a fixed byte offset inside the zip. `frames` is time-major, (total_frames, 4, 2, n_mels): one segment of
L frames is one contiguous byte range of L · 4 · 2 · n_mels · 2 bytes (256 KiB for 128 frames × 128 bands).
`MelStore` reads segments with `os.preadv` straight into the batch buffer: nothing is memory-mapped, so
the page cache never counts in the process's RSS, and memory does not grow with the corpus (the index it
holds is ~40 B per item). benchmarks/streaming.py measures this layout against the alternatives.

npz keys:
    frames      float16 (total_frames, 4, 2, n_mels)  time × stems × (mid, side | L, R) × bands, log power
    offsets     int64 (K + 1,)   item k occupies frames offsets[k]:offsets[k+1]
    track_id    str (K,)         track ids (manifest)
    variant_id  int64 (K,)       0 = the unprocessed reference remix
    mel_config  str              JSON of MelSettings (rate, n_fft, hop, bands, stereo, floor)
    crop        str              JSON {"max_s": ..., "placement": "centre"}
    layout      str              "time-major-v2" (stores before it held `mels` (4, 2, n_mels, T); those are
                                 still read by `load_mel_shard`, in memory, but not streamed)
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mixrep.model.frontend import MelSettings, MelFrontend

LAYOUT = "time-major-v2"
HEADER_KEYS = ("offsets", "track_id", "variant_id", "mel_config", "crop")
KEYS = ("frames", *HEADER_KEYS)


def _segments_to_model(stacked: np.ndarray, time_major: bool) -> torch.Tensor:
    """float16 segments -> float32 (B, 4, 2, M, L), C-contiguous (the model's input layout)."""
    tensor = torch.from_numpy(stacked)
    if time_major:  # (B, L, 4, 2, M)
        tensor = tensor.permute(0, 2, 3, 4, 1)
    out = torch.empty(tensor.shape, dtype=torch.float32)
    out.copy_(tensor)
    return out


@dataclass
class MelShard:
    """Log-Mels of K items in memory, (4, 2, n_mels, total_frames) (what `build_mel_shard` makes)."""

    mels: np.ndarray
    offsets: np.ndarray
    track_id: np.ndarray
    variant_id: np.ndarray
    mel_config: MelSettings
    max_s: float | None

    def __len__(self) -> int:
        return len(self.track_id)

    @property
    def num_frames(self) -> np.ndarray:
        return np.diff(self.offsets)

    def item(self, k: int) -> np.ndarray:
        return self.mels[..., self.offsets[k]:self.offsets[k + 1]]

    def segments(self, mel_index: np.ndarray, starts: np.ndarray, length: int) -> torch.Tensor:
        """(B, 4, 2, M, length) float32 segments of items `mel_index` starting at frames `starts`."""
        begins = self.offsets[np.asarray(mel_index, dtype=np.int64)] + np.asarray(starts, dtype=np.int64)
        stacked = np.stack([self.mels[..., b:b + length] for b in begins])
        return _segments_to_model(stacked, time_major=False)

    def save(self, path: str | Path) -> Path:
        """Write the time-major store (module docstring); atomic (a temporary file, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, frames=np.ascontiguousarray(np.moveaxis(self.mels, -1, 0)), offsets=self.offsets,
                 track_id=self.track_id.astype(str), variant_id=self.variant_id,
                 mel_config=json.dumps(self.mel_config.to_dict(), sort_keys=True),
                 crop=json.dumps({"max_s": self.max_s, "placement": "centre"}), layout=LAYOUT)
        tmp.replace(path)
        return path


@dataclass(frozen=True)
class _ShardHeader:
    """What opening a shard reads: the index (small) and where `frames` starts in the file."""

    path: Path
    offsets: np.ndarray
    track_id: np.ndarray
    variant_id: np.ndarray
    mel_config: str
    max_s: float | None
    data_offset: int | None  # byte offset of frames[0] (None: a legacy store, not streamable)
    frame_shape: tuple[int, ...]


def _read_header(path: str | Path) -> _ShardHeader:
    """The index of one store and the byte offset of its `frames`, without reading the Mels."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in HEADER_KEYS if key not in data]
            if "frames" not in data and "mels" not in data:
                missing.insert(0, "frames")
            if missing:
                raise ValueError(f"{path}: not a mixrep mel store (missing keys {missing})")
            header = dict(offsets=data["offsets"].astype(np.int64), track_id=data["track_id"].astype(str),
                          variant_id=data["variant_id"].astype(np.int64), mel_config=str(data["mel_config"]),
                          max_s=json.loads(str(data["crop"]))["max_s"])
            legacy = "frames" not in data
        data_offset, shape = (None, ()) if legacy else _member_data_offset(path, "frames.npy")
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: cannot read mel store ({error})") from error
    return _ShardHeader(path=path, data_offset=data_offset, frame_shape=shape, **header)


def _member_data_offset(path: Path, member: str) -> tuple[int, tuple[int, ...]]:
    """Byte offset of the array data of an uncompressed npz member, and the array's shape."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: {member} is compressed; the mel store must be written uncompressed (np.savez)")
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"{path}: bad zip local header for {member}")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        handle.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(handle)
        if fortran or dtype != np.float16 or len(shape) != 4 or shape[1:3] != (4, 2):
            raise ValueError(f"{path}: frames must be C-order float16 (T, 4, 2, n_mels), got {dtype} {shape}")
        return handle.tell(), tuple(shape)


class MelStore:
    """Every shard of the corpus, read segment by segment from disk (bounded memory; see the module doc).

    Item k of the store is item k - first[s] of shard s, in the order of `paths`: the same global indices
    as `load_mel_bank(paths)`, so training draws do not depend on which of the two is used.
    """

    def __init__(self, paths: list[str | Path]) -> None:
        self._fds: list[int | None] = []  # first, so that close() works on a store that failed to open
        if not paths:
            raise ValueError("no mel shards given")
        headers = [_read_header(path) for path in paths]
        legacy = [str(h.path) for h in headers if h.data_offset is None]
        if legacy:
            raise ValueError(f"{legacy[0]}: mel store of the old layout ('mels' (4, 2, M, T)); "
                             f"rerun the analyse rule (or `mixrep mels`) to write the streamable layout"
                             f"{f' ({len(legacy)} such files)' if len(legacy) > 1 else ''}")
        configs = sorted({h.mel_config for h in headers})
        if len(configs) > 1:
            raise ValueError(f"mel shards were made with different frontends: {configs}")
        self.mel_config = MelSettings(**json.loads(configs[0]))
        self.max_s = headers[0].max_s
        self.frame_shape = headers[0].frame_shape[1:]
        self.frame_bytes = int(np.prod(self.frame_shape)) * 2
        self._paths = [h.path for h in headers]
        self._data = np.array([h.data_offset for h in headers], dtype=np.int64)
        counts = [len(h.track_id) for h in headers]
        self._first = np.cumsum([0, *counts])  # global index of each shard's first item
        self._shard_of = np.repeat(np.arange(len(headers)), counts)
        self._local_start = np.concatenate([h.offsets[:-1] for h in headers]).astype(np.int64)
        lengths = np.concatenate([np.diff(h.offsets) for h in headers]).astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._num_frames = lengths
        self.track_id = np.concatenate([h.track_id for h in headers])
        self.variant_id = np.concatenate([h.variant_id for h in headers])
        self._fds = [None] * len(headers)

    def __len__(self) -> int:
        return len(self.track_id)

    @property
    def num_frames(self) -> np.ndarray:
        return self._num_frames

    def _fd(self, shard: int) -> int:
        fd = self._fds[shard]
        if fd is None:
            fd = self._fds[shard] = os.open(self._paths[shard], os.O_RDONLY)
        return fd

    def _read_into(self, out: np.ndarray, item: int, start: int) -> None:
        shard = int(self._shard_of[item])
        offset = int(self._data[shard] + (self._local_start[item] + start) * self.frame_bytes)
        view = memoryview(out.reshape(-1).view(np.uint8))
        got = os.preadv(self._fd(shard), [view], offset)
        if got != view.nbytes:
            raise ValueError(f"{self._paths[shard]}: truncated mel store (item {item - self._first[shard]})")

    def read_frames(self, k: int, start: int, length: int) -> np.ndarray:
        """Frames start:start+length of item k, time-major float16 (length, 4, 2, M)."""
        if start < 0 or start + length > self.num_frames[k]:
            raise IndexError(f"frames {start}:{start + length} outside item {k} ({self.num_frames[k]} frames)")
        out = np.empty((length, *self.frame_shape), dtype=np.float16)
        self._read_into(out, int(k), int(start))
        return out

    def item(self, k: int) -> np.ndarray:
        """Item k as (4, 2, M, T) float16 (read from disk; a view of a time-major buffer)."""
        return np.moveaxis(self.read_frames(k, 0, int(self.num_frames[k])), 0, -1)

    def segments(self, mel_index: np.ndarray, starts: np.ndarray, length: int) -> torch.Tensor:
        """(B, 4, 2, M, length) float32 segments, equal to `MelShard.segments` of the same items and starts."""
        mel_index = np.asarray(mel_index, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        if np.any(starts < 0) or np.any(starts + length > self.num_frames[mel_index]):
            raise IndexError("segment outside its item")
        stacked = np.empty((len(mel_index), length, *self.frame_shape), dtype=np.float16)
        for b, (item, start) in enumerate(zip(mel_index.tolist(), starts.tolist())):
            self._read_into(stacked[b], item, start)
        return _segments_to_model(stacked, time_major=True)

    def close(self) -> None:
        for k, fd in enumerate(self._fds):
            if fd is not None:
                os.close(fd)
                self._fds[k] = None

    def __enter__(self) -> MelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


MelSource = MelShard | MelStore  # what training, embedding and retrieval read segments from


def load_mel_shard(path: str | Path) -> MelShard:
    """Read one shard into memory (either layout), with an error that names the file when it is not a mel store."""
    header = _read_header(path)
    with np.load(path, allow_pickle=False) as data:
        mels = np.moveaxis(data["frames"], 0, -1) if header.data_offset is not None else data["mels"]
    return MelShard(mels=np.ascontiguousarray(mels), offsets=header.offsets, track_id=header.track_id,
                    variant_id=header.variant_id, mel_config=MelSettings(**json.loads(header.mel_config)),
                    max_s=header.max_s)


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
    """Every shard in memory: the former pretraining input, kept as the reference of benchmarks/streaming.py.

    Memory grows with the corpus (9.5 MB per track of 9 variants); `MelStore` is what the commands use.
    """
    if not paths:
        raise ValueError("no mel shards given")
    headers = [_read_header(path) for path in paths]
    configs = sorted({h.mel_config for h in headers})
    if len(configs) > 1:
        raise ValueError(f"mel shards were made with different frontends: {configs}")
    first = load_mel_shard(paths[0])
    if len(paths) == 1:
        return first
    total = int(sum(h.offsets[-1] for h in headers))
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
    from mixrep.signal.excerpt import centred_excerpt

    return centred_excerpt(stems, max_samples)


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


def build_mel_shard(variants: Iterable[tuple[str, int, np.ndarray]], mel_config: MelSettings,
                    max_s: float | None) -> MelShard:
    """Log-Mels of every item yielded by `variants` (in the order given)."""
    frontend = MelFrontend(mel_config)
    items = list(iter_item_mels(variants, frontend, max_s))
    return mel_shard_from_items(items, mel_config, max_s)


def mel_shard_from_items(items: list[tuple[str, int, np.ndarray]], mel_config: MelSettings,
                         max_s: float | None) -> MelShard:
    """A MelShard of (track_id, variant_id, float16 log-Mel (4,2,M,T)) items, in the order given."""
    tracks = [track for track, _, _ in items]
    variant_ids = [variant for _, variant, _ in items]
    blocks = [mel for _, _, mel in items]
    if not blocks:
        mels = np.zeros((4, 2, mel_config.n_mels, 0), dtype=np.float16)
    else:
        mels = np.concatenate(blocks, axis=-1)
    offsets = np.cumsum([0, *[b.shape[-1] for b in blocks]]).astype(np.int64)
    return MelShard(mels=mels, offsets=offsets, track_id=np.array(tracks, dtype=str),
                    variant_id=np.array(variant_ids, dtype=np.int64), mel_config=mel_config, max_s=max_s)
