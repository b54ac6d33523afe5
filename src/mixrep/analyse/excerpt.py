"""Reading a bounded excerpt of a track's stems from disk: the analysis's memory does not grow with track length.

`soundfile` seeks to the first needed frame and reads only `excerpt` seconds (centred on the track), so a
20-minute stem costs what a 12-second one does. A stem at another rate than the pipeline's (not written by
this workflow) is read whole and converted by `mixrep.audio.read_stems`, then cut: same samples, no bound.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from mixrep.audio import AudioError, read_stem_gains, read_stems, stem_ext
from mixrep.stems import SAMPLE_RATE, STEMS


def excerpt_bounds(num_samples: int, excerpt_samples: int | None) -> tuple[int, int]:
    """[start, stop) of the centred excerpt (the whole track when it is shorter or the excerpt is None)."""
    if excerpt_samples is None or num_samples <= excerpt_samples:
        return 0, num_samples
    start = (num_samples - excerpt_samples) // 2
    return start, start + excerpt_samples


def read_stems_excerpt(stem_dir: str | Path, excerpt_s: float | None, ext: str | None = None) -> np.ndarray:
    """The centred `excerpt_s` seconds of a track's four stems, float32 (4, 2, n) in STEMS order.

    Equal to `read_stems(stem_dir)[..., start:stop]` with `excerpt_bounds` (tests/test_analyse.py), whatever
    the stems' format: the extension is found on disk and a flac24 folder's per-stem gains are applied.
    """
    stem_dir = Path(stem_dir)
    ext = ext or stem_ext(stem_dir)
    gains = read_stem_gains(stem_dir) if ext == ".flac" else {}
    paths = [stem_dir / f"{name}{ext}" for name in STEMS]
    try:
        infos = [sf.info(str(path)) for path in paths]
    except (RuntimeError, sf.LibsndfileError) as error:
        raise AudioError(stem_dir, f"cannot read stems ({error})") from None
    if any(info.samplerate != SAMPLE_RATE or info.channels not in (1, 2) for info in infos):
        stems = read_stems(stem_dir, ext)  # converted whole (rate/channels), then cut
        start, stop = excerpt_bounds(stems.shape[-1], _samples(excerpt_s))
        return np.ascontiguousarray(stems[..., start:stop])
    lengths = [info.frames for info in infos]
    if len(set(lengths)) > 1:
        raise AudioError(stem_dir, f"stems differ in length ({lengths} samples)")
    start, stop = excerpt_bounds(lengths[0], _samples(excerpt_s))
    out = np.empty((len(STEMS), 2, stop - start), dtype=np.float32)
    for k, path in enumerate(paths):
        data = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)[0]
        out[k] = data.T if data.shape[1] == 2 else np.repeat(data.T, 2, axis=0)
        gain = gains.get(STEMS[k], 1.0)
        if gain != 1.0:
            out[k] *= np.float32(gain)
    return out


def _samples(excerpt_s: float | None) -> int | None:
    return None if excerpt_s is None else int(round(excerpt_s * SAMPLE_RATE))
