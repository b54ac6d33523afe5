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
from mixrep.signal.excerpt import excerpt_bounds, excerpt_samples
from mixrep.stems import SAMPLE_RATE, STEMS


def read_stems_excerpt(stem_dir: str | Path, excerpt_s: float | None, ext: str | None = None) -> np.ndarray:
    """The centred `excerpt_s` seconds of a track's four stems, float32 (4, 2, n) in STEMS order.

    Equal to `read_stems(stem_dir)[..., start:stop]` with `mixrep.signal.excerpt.excerpt_bounds` (tests/test_analyse.py), whatever
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
        start, stop = excerpt_bounds(stems.shape[-1], excerpt_samples(excerpt_s, SAMPLE_RATE))
        return np.ascontiguousarray(stems[..., start:stop])
    lengths = [info.frames for info in infos]
    if len(set(lengths)) > 1:
        raise AudioError(stem_dir, f"stems differ in length ({lengths} samples)")
    start, stop = excerpt_bounds(lengths[0], excerpt_samples(excerpt_s, SAMPLE_RATE))
    out = np.empty((len(STEMS), 2, stop - start), dtype=np.float32)
    for k, path in enumerate(paths):
        data = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)[0]
        out[k] = data.T if data.shape[1] == 2 else np.repeat(data.T, 2, axis=0)
        gain = gains.get(STEMS[k], 1.0)
        if gain != 1.0:
            out[k] *= np.float32(gain)
    return out
