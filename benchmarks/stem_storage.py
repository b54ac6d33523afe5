"""Disk and feature cost of storing stems as 24-bit FLAC instead of float32 WAV (docs/separation.md "Storage").

Renders a few synthetic corpus tracks (mixrep.corpus, 30 s each: an FMA clip's length), writes their stems both
ways (`mixrep.audio.write_stems`, stem_format float32 / flac24), reads them back with `read_stems`, and compares
every structured feature (`mixrep.features.extract.extract_features`) of the two. Also scales the stems by 2
(a separator's output above +-1) to check that FLAC-24 keeps it without clipping.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stem_storage.py [--genres rock jazz ...] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mixrep.audio import read_stems, write_stems  # noqa: E402
from mixrep.corpus.generate import CorpusSettings, TrackSpec, generate_track  # noqa: E402
from mixrep.features.extract import extract_features  # noqa: E402
from mixrep.stems import SAMPLE_RATE  # noqa: E402


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genres", nargs="+", default=["rock", "jazz", "electronic", "classical"])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    config = CorpusSettings(genres=tuple(args.genres), tracks_per_genre=1, seconds=args.seconds)
    sizes: dict[str, list[float]] = {"float32": [], "flac24": []}
    write_s: dict[str, list[float]] = {"float32": [], "flac24": []}
    diffs: dict[str, float] = {}
    relative: dict[str, float] = {}
    peaks, hot_errors = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for genre in args.genres:
            stems = generate_track(TrackSpec(genre, 0, 0), config).stems.astype(np.float32)
            peaks.append(float(np.abs(stems).max()))
            features = {}
            for stem_format in ("float32", "flac24"):
                folder = Path(tmp) / genre / stem_format
                start = time.perf_counter()
                write_stems(folder, stems, stem_format=stem_format)
                write_s[stem_format].append(time.perf_counter() - start)
                sizes[stem_format].append(folder_bytes(folder) * 30.0 / args.seconds)
                features[stem_format] = extract_features(read_stems(folder), SAMPLE_RATE)
            for column, value in features["float32"].items():
                diff = abs(features["flac24"][column] - value)
                diffs[column] = max(diffs.get(column, 0.0), diff)
                relative[column] = max(relative.get(column, 0.0), diff / max(abs(value), 1e-12))
            hot = Path(tmp) / genre / "hot"
            write_stems(hot, stems * 2, stem_format="flac24")
            back = read_stems(hot)
            hot_errors.append(float(np.max(np.abs(back - stems * 2)) / np.abs(stems * 2).max()))
    per_family: dict[str, float] = {}
    for column, diff in diffs.items():
        family = column.split(".")[0]
        per_family[family] = max(per_family.get(family, 0.0), diff)
    print(f"{len(args.genres)} tracks ({', '.join(args.genres)}), {args.seconds:.0f} s, stem peaks "
          f"{min(peaks):.3f}..{max(peaks):.3f}")
    for stem_format in ("float32", "flac24"):
        print(f"{stem_format:8} {np.mean(sizes[stem_format]) / 1e6:6.1f} MB per 30 s track (4 stems), "
              f"write {np.mean(write_s[stem_format]):.2f} s")
    print(f"flac24 / float32 = {np.mean(sizes['flac24']) / np.mean(sizes['float32']):.3f}")
    print("largest |feature difference| per family: "
          + ", ".join(f"{family} {value:.2e}" for family, value in sorted(per_family.items())))
    top = sorted(diffs.items(), key=lambda kv: -kv[1])[:5]
    print("largest columns: " + ", ".join(f"{c} {v:.2e} (rel {relative[c]:.1e})" for c, v in top))
    print(f"stems x2 (peaks above 1) via flac24: max error / peak = {max(hot_errors) * 2 ** 23:.2f} x 2^-23")
    print(json.dumps({"float32_mb_per_track": round(np.mean(sizes["float32"]) / 1e6, 2),
                      "flac24_mb_per_track": round(np.mean(sizes["flac24"]) / 1e6, 2),
                      "max_feature_abs_diff": max(diffs.values()), "columns": len(diffs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
