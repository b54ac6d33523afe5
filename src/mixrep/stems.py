"""Stem names, their order, and the on-disk layout of a multitrack folder.

The order `vocals, bass, drums, other` is used everywhere in mixrep (DESIGN.md). SCNet's own order
(`drums, bass, other, vocals`) is mapped once, at the separation boundary, with `from_scnet_order`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

STEMS: tuple[str, ...] = ("vocals", "bass", "drums", "other")
SCNET_ORDER: tuple[str, ...] = ("drums", "bass", "other", "vocals")
MIXTURE = "mixture"
SAMPLE_RATE = 44100

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def from_scnet_order(stems: np.ndarray, axis: int = 0) -> np.ndarray:
    """Reorder an array whose `axis` follows SCNET_ORDER into STEMS order."""
    index = [SCNET_ORDER.index(name) for name in STEMS]
    return np.take(stems, index, axis=axis)


def to_scnet_order(stems: np.ndarray, axis: int = 0) -> np.ndarray:
    """Reorder an array whose `axis` follows STEMS into SCNET_ORDER."""
    index = [STEMS.index(name) for name in SCNET_ORDER]
    return np.take(stems, index, axis=axis)


def track_dirname(track_id: str) -> str:
    """A file-system safe, stable folder name for a track id (folder ids may contain '/')."""
    name = _UNSAFE.sub("_", track_id.replace("/", "__"))
    return name or "_"


def stem_paths(track_dir: str | Path, ext: str = ".wav") -> dict[str, Path]:
    """Paths of the mixture and the four stems inside one multitrack folder."""
    track_dir = Path(track_dir)
    return {name: track_dir / f"{name}{ext}" for name in (MIXTURE, *STEMS)}
