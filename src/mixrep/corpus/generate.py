"""One synthetic track (arrange -> render -> mix -> master) and the whole corpus over a process pool.

Each track's random generator is derived from (seed, genre, index) alone, with separate child streams for
the arrangement and the mix, so a track's bytes do not depend on the pool size, the order the pool runs in,
or which other genres are generated. Workers write their own track folders and return only metadata; the
parent writes ``metadata.parquet`` last, which is the file that marks the corpus as complete.
"""

from __future__ import annotations

import logging
import shutil
import time
import zlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from mixrep.audio import write_audio
from mixrep.corpus.arrangement import arrange
from mixrep.corpus.genres import GENRES, get_genre
from mixrep.corpus.mixstyle import draw_mix, master, process_stem
from mixrep.corpus.render import RENDERERS, find_soundfont, render_stem
from mixrep.stems import MIXTURE, SAMPLE_RATE, STEMS

log = logging.getLogger(__name__)

TRACK_PREFIX = "syn-"


class CorpusError(RuntimeError):
    """The corpus as a whole could not be made (every track failed)."""


@dataclass(frozen=True)
class CorpusConfig:
    """The `synthetic` config section (workflow/schemas/sections/synthetic.schema.yaml)."""

    genres: tuple[str, ...] = tuple(GENRES)
    tracks_per_genre: int = 12
    seconds: float = 12.0
    soundfont: str | None = None
    renderer: str = "auto"
    limiter_ceiling_db: float = -1.0
    mix_spread: float = 1.0

    @classmethod
    def from_settings(cls, section: dict[str, Any]) -> "CorpusConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(section) - known
        if unknown:
            raise ValueError(f"synthetic: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        values = dict(section)
        if "genres" in values:
            values["genres"] = tuple(values["genres"])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        for name in self.genres:
            get_genre(name)
        if len(set(self.genres)) != len(self.genres):
            raise ValueError(f"synthetic.genres lists a genre twice: {list(self.genres)}")
        if self.tracks_per_genre < 1:
            raise ValueError(f"synthetic.tracks_per_genre must be >= 1, got {self.tracks_per_genre}")
        if not self.seconds >= 1.0:
            raise ValueError(f"synthetic.seconds must be >= 1 (loudness needs >= 0.4 s), got {self.seconds}")
        if self.renderer not in RENDERERS:
            raise ValueError(f"synthetic.renderer must be one of {RENDERERS}, got {self.renderer!r}")


@dataclass(frozen=True)
class TrackSpec:
    """What identifies one track: everything random in it derives from these three values."""

    genre: str
    index: int
    seed: int

    @property
    def track_id(self) -> str:
        return f"{TRACK_PREFIX}{self.genre}-{self.index:03d}"

    def rngs(self) -> tuple[np.random.Generator, np.random.Generator]:
        """Independent generators for (arrangement, mix); crc32 makes the genre's share order-free."""
        root = np.random.SeedSequence([self.seed, zlib.crc32(self.genre.encode()), self.index])
        arrangement, mix = root.spawn(2)
        return np.random.default_rng(arrangement), np.random.default_rng(mix)


@dataclass
class Track:
    """A generated track in memory: stems as mixed (4, 2, N), their sum, and its metadata row."""

    spec: TrackSpec
    stems: np.ndarray
    mixture: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)


def track_specs(config: CorpusConfig, seed: int) -> list[TrackSpec]:
    return [TrackSpec(genre, i, seed) for genre in config.genres for i in range(config.tracks_per_genre)]


def generate_track(spec: TrackSpec, config: CorpusConfig, sample_rate: int = SAMPLE_RATE) -> Track:
    """Arrange, render every stem dry, mix it in the genre's style and master it."""
    genre = get_genre(spec.genre)
    arrangement_rng, mix_rng = spec.rngs()
    num_samples = int(round(config.seconds * sample_rate))
    arrangement = arrange(genre, config.seconds, arrangement_rng)
    style = draw_mix(genre.mix, mix_rng, config.mix_spread)
    soundfont = find_soundfont(config.soundfont)
    processed = []
    for stem in STEMS:
        dry = render_stem(arrangement.stems[stem], soundfont, num_samples, arrangement.tempo_bpm,
                          config.renderer, sample_rate)
        processed.append(process_stem(dry, style.stems[stem], style.room_size, style.tilt_db, sample_rate))
    result = master(np.stack(processed), style.target_lufs, config.limiter_ceiling_db, sample_rate)
    programs = arrangement.programs()
    record: dict[str, Any] = {
        "track_id": spec.track_id, "genre": spec.genre, "seconds": num_samples / sample_rate,
        "tempo_bpm": arrangement.tempo_bpm, "key": arrangement.key, "has_vocals": arrangement.has_vocals,
        "seed": spec.seed, "index": spec.index,
        "integrated_lufs": result.integrated_lufs, "peak_dbfs": result.peak_dbfs,
        "crest_db": result.peak_dbfs - _rms_db(result.mixture),
        "master_gain_db": result.master_gain_db, "limiter_max_gr_db": result.limiter_max_gr_db,
        "soundfont": soundfont.name,
        **{f"program.{stem}": programs[stem] for stem in STEMS},
        **style.flat(),
    }
    return Track(spec, result.stems, result.mixture, record)


def _rms_db(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def write_track(track: Track, tracks_dir: Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """tracks/<track_id>/{mixture,vocals,bass,drums,other}.wav as float32 WAV (exact, so stems sum to the mix)."""
    folder = tracks_dir / track.spec.track_id
    write_audio(folder / f"{MIXTURE}.wav", track.mixture, sample_rate)
    for name, stem in zip(STEMS, track.stems):
        write_audio(folder / f"{name}.wav", stem, sample_rate)
    return folder


@dataclass(frozen=True)
class _Job:
    spec: TrackSpec
    config: CorpusConfig
    tracks_dir: Path


_Result = tuple[str, dict[str, Any] | None, str | None, float]  # track_id, record, error, seconds


def _run_job(job: _Job) -> _Result:
    """Worker entry: generate and write one track; failures come back as a reason, not an exception."""
    start = time.perf_counter()
    try:
        track = generate_track(job.spec, job.config)
        write_track(track, job.tracks_dir)
        return job.spec.track_id, track.record, None, time.perf_counter() - start
    except Exception as exc:  # one broken track must not lose the others; the reason is reported
        return job.spec.track_id, None, f"{exc.__class__.__name__}: {exc}", time.perf_counter() - start


def _clear_stale(tracks_dir: Path, keep: Iterable[str]) -> list[str]:
    """Remove generated track folders that this corpus will not contain (a smaller rerun)."""
    keep = set(keep)
    removed = []
    if tracks_dir.is_dir():
        for folder in sorted(tracks_dir.iterdir()):
            if folder.is_dir() and folder.name.startswith(TRACK_PREFIX) and folder.name not in keep:
                shutil.rmtree(folder)
                removed.append(folder.name)
    return removed


class _Serial:
    """The executor interface of ProcessPoolExecutor, run in this process (jobs = 1: easier to debug)."""

    def __enter__(self) -> "_Serial":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable[[_Job], _Result], items: Iterable[_Job]) -> Iterator[_Result]:
        return map(fn, items)


@dataclass
class CorpusReport:
    metadata: pd.DataFrame
    failures: dict[str, str]
    wall_s: float
    audio_s: float

    @property
    def speed_x_realtime(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")


def generate_corpus(out_dir: str | Path, config: CorpusConfig, seed: int, jobs: int = 1) -> CorpusReport:
    """Generate every track into <out_dir>/tracks/ and write <out_dir>/metadata.parquet last."""
    find_soundfont(config.soundfont)  # fail once, clearly, before starting any worker
    out_dir = Path(out_dir)
    tracks_dir = out_dir / "tracks"
    tracks_dir.mkdir(parents=True, exist_ok=True)
    metadata_path = out_dir / "metadata.parquet"
    failed_path = out_dir / "failed.csv"
    for stale in (metadata_path, failed_path):
        stale.unlink(missing_ok=True)
    specs = track_specs(config, seed)
    removed = _clear_stale(tracks_dir, (s.track_id for s in specs))
    if removed:
        log.info("removed %d stale track folders: %s", len(removed), ", ".join(removed))
    work = [_Job(spec, config, tracks_dir) for spec in specs]
    start = time.perf_counter()
    records, failures = [], {}
    # spawn, not fork: a forked child of a process whose FluidSynth/torch threads hold a lock deadlocks
    pool_context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=pool_context) if jobs > 1 else _Serial() as pool:
        for track_id, record, error, seconds in pool.map(_run_job, work):  # in order, as they finish
            if error is None:
                records.append(record)
                log.info("%s: %.2f s", track_id, seconds)
            else:
                failures[track_id] = error
                log.error("%s failed: %s", track_id, error)
    wall = time.perf_counter() - start
    if not records:
        raise CorpusError("no synthetic track could be generated: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    if failures:
        pd.DataFrame({"track_id": list(failures), "reason": list(failures.values())}).to_csv(failed_path, index=False)
    metadata = pd.DataFrame.from_records(records).sort_values("track_id").reset_index(drop=True)
    metadata.to_parquet(metadata_path, index=False)
    return CorpusReport(metadata, failures, wall, len(records) * config.seconds)
