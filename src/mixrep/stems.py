"""Stem names, their order, and the on-disk layout of a multitrack folder.

The order `vocals, bass, drums, other` is used everywhere in mixrep (DESIGN.md). A separator's own order
(SCNet's: `mixrep.separation.scnet_entry.SCNET_ORDER`) is mapped once, at the separation boundary.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path


STEMS: tuple[str, ...] = ("vocals", "bass", "drums", "other")
MIXTURE = "mixture"
SAMPLE_RATE = 44100

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Ids kept as they are: lower-case ASCII letters, digits, '.', '_', '-', not starting with '.', '_' or '-'.
# Lower case only, so that two plain names never differ by case alone (macOS, Windows file systems).
_PLAIN = re.compile(r"[a-z0-9][a-z0-9._-]*")
PLAIN_MAX = 100
SLUG_MAX = 80
HASH_SEPARATOR = "~"  # never in a plain name: a hashed name cannot equal a plain one
HASH_HEX = 8


def track_dirname(track_id: str) -> str:
    """The folder (or file-name stem) of a track's per-track outputs: safe, stable and injective.

    Folder track ids are relative paths (``rock/a b.wav``) and may hold any character, so a plain
    character substitution maps different ids to one folder (``a b.wav`` / ``a_b.wav``, ``é.wav`` /
    ``ü.wav``, ``x/y.wav`` / ``x__y.wav``) and one track's stems would overwrite another's. Instead:

    * an id that is already a safe, simple name (``syn-jazz-001``, ``000123``: see `_PLAIN`) is kept;
    * any other id becomes ``<ascii slug>~<first 8 hex of sha1(id)>``, e.g. ``rock__a_b.wav~1f0c2e7d``.

    Plain names never contain ``~`` and hashed ones always do, so a plain name never equals a hashed
    one; two plain names are equal only for equal ids; two hashed names are equal only when the
    sha1 prefixes of two different ids agree (one chance in 2**32 per pair). The manifest refuses such
    a pair (`mixrep.datasets.manifest`), so no two tracks of a run ever share a folder.
    """
    if len(track_id) <= PLAIN_MAX and _PLAIN.fullmatch(track_id):
        return track_id
    ascii_id = unicodedata.normalize("NFKD", track_id).encode("ascii", "ignore").decode("ascii")
    slug = _UNSAFE.sub("_", ascii_id.replace("/", "__")).lstrip(".")[:SLUG_MAX] or "_"
    # surrogatepass: ids read from undecodable file names (surrogate escapes) still hash, injectively
    digest = hashlib.sha1(track_id.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_HEX]
    return f"{slug}{HASH_SEPARATOR}{digest}"


def stem_paths(track_dir: str | Path, ext: str | None = None) -> dict[str, Path]:
    """Paths of the mixture and the four stems inside one multitrack folder.

    Without `ext`, each file's extension is found on disk (`.flac` where that file exists, else `.wav`), so
    folders of 24-bit FLAC stems (separation.stem_format: flac24) and of float WAV read alike.
    """
    track_dir = Path(track_dir)
    if ext is not None:
        return {name: track_dir / f"{name}{ext}" for name in (MIXTURE, *STEMS)}
    return {name: track_dir / f"{name}.flac" if (track_dir / f"{name}.flac").is_file() else track_dir / f"{name}.wav"
            for name in (MIXTURE, *STEMS)}
