"""Speed of synthetic corpus generation (x real time) on 1 and 2 processes, and of the two FluidSynth back ends.

Measures, in the same run, on a small corpus (default: 8 genres x 2 tracks x 6 s):
  * `generate_corpus` with 1 process (the reference) and with 2 processes: wall time, x real time, speed-up;
  * rendering every stem of the same arrangements with the in-process libfluidsynth back end (the default)
    and with the `fluidsynth` program per stem (the reference), and whether each is deterministic.
The machine's other load shows in the 2-process ratio; the CPU seconds (this process and its pool workers)
do not depend on it. Run it on an idle machine for a clean speed-up.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/corpus.py [--tracks 2] [--seconds 6]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core per process, before numpy loads its BLAS

import argparse
import resource
import tempfile
import time

import numpy as np

from mixrep.corpus import render
from mixrep.corpus.arrangement import arrange
from mixrep.corpus.generate import CorpusSettings, TrackSpec, generate_corpus
from mixrep.corpus.genres import GENRES, get_genre
from mixrep.stems import SAMPLE_RATE, STEMS


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_corpus(config: CorpusSettings, jobs: int) -> tuple[float, float, float]:
    """(wall seconds, x real time, CPU seconds) of one corpus generation with `jobs` processes."""
    with tempfile.TemporaryDirectory(prefix="mixrep-bench-") as tmp:
        cpu, start = _cpu_seconds(), time.perf_counter()
        report = generate_corpus(tmp, config, seed=0, jobs=jobs)
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return wall, report.audio_s / wall, cpu


def time_renderers(config: CorpusSettings) -> dict[str, tuple[float, bool]]:
    """Seconds to render every stem of one arrangement per genre, and whether a second render is identical."""
    soundfont = render.find_soundfont(config.soundfont)
    n = int(config.seconds * SAMPLE_RATE)
    arrangements = []
    for genre in config.genres:
        arrangement_rng, _ = TrackSpec(genre, 0, 0).rngs()
        arrangements.append(arrange(get_genre(genre), config.seconds, arrangement_rng))
    out = {}
    for name in ("library", "cli"):
        start = time.perf_counter()
        first = [render.render_stem(a.stems[s], soundfont, n, a.tempo_bpm, name) for a in arrangements for s in STEMS]
        wall = time.perf_counter() - start
        again = [render.render_stem(a.stems[s], soundfont, n, a.tempo_bpm, name) for a in arrangements[:2] for s in STEMS]
        out[name] = (wall, all(np.array_equal(x, y) for x, y in zip(first, again)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2, help="tracks per genre")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    config = CorpusSettings(genres=tuple(GENRES), tracks_per_genre=args.tracks, seconds=args.seconds)
    audio_s = len(config.genres) * args.tracks * args.seconds
    print(f"corpus: {len(config.genres)} genres x {args.tracks} track(s) x {args.seconds:g} s = {audio_s:g} s of audio, "
          f"soundfont {render.find_soundfont().name}, {os.cpu_count()} CPUs\n")

    time_corpus(CorpusSettings(genres=("rock",), tracks_per_genre=1, seconds=2.0), 1)  # warm the page cache
    rows = [(jobs, *time_corpus(config, jobs)) for jobs in (1, 2)]
    base = rows[0][1]
    print(f"load average before: {os.getloadavg()[0]:.1f} (other processes share the CPUs: see the CPU column)\n")
    print("| processes | wall s | x real time | speed-up vs 1 process | CPU s | audio s per CPU s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for jobs, wall, speed, cpu in rows:
        print(f"| {jobs} | {wall:.2f} | {speed:.1f} | {base / wall:.2f} | {cpu:.2f} | {audio_s / cpu:.1f} |")

    renders = time_renderers(config)
    n_stems = len(config.genres) * len(STEMS)
    ref = renders["cli"][0]
    print(f"\nrendering {n_stems} dry stems ({args.seconds:g} s each):\n")
    print("| back end | wall s | s per stem | x real time | ratio vs fluidsynth CLI | deterministic |")
    print("|---|---:|---:|---:|---:|---|")
    for name, label in (("cli", "fluidsynth program per stem (reference)"), ("library", "libfluidsynth in-process")):
        wall, same = renders[name]
        print(f"| {label} | {wall:.2f} | {wall / n_stems:.3f} | {n_stems * args.seconds / wall:.1f} | "
              f"{ref / wall:.2f} | {same} |")


if __name__ == "__main__":
    main()
