"""One synthetic track (arrange -> render -> mix -> master) and the whole corpus over a process pool.

Each track's random generator is derived from (seed, genre, index) alone, with separate child streams for
the arrangement and the mix, so a track's bytes do not depend on the pool size, the order the pool runs in,
or which other genres are generated. Workers write their own track folders and return only metadata; the
parent writes ``metadata.parquet`` last, which is the file that marks the corpus as complete.

The crossed content x mixing-style set (`synthetic.crossed_arrangements`): held-out arrangements, each from
its own seed stream (never one an ordinary track uses, so the ordinary tracks' bytes are the same with or
without it), rendered dry once and mixed once under EVERY generated genre's prior: ids
``syn-x<k>-<style>``. Content (arrangement) and mixing style then vary independently, which the genre tracks
cannot show (each genre has its own arrangement idiom and its own prior).
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
from mixrep.corpus.arrangement import Arrangement, arrange
from mixrep.corpus.genres import GENRES, get_genre
from mixrep.corpus.mixstyle import MasterResult, MixStyle, draw_mix, master, process_stem
from mixrep.corpus.render import RENDERERS, find_soundfont, render_stem
from mixrep.stems import MIXTURE, SAMPLE_RATE, STEMS

log = logging.getLogger(__name__)

TRACK_PREFIX = "syn-"
CROSSED_PREFIX = f"{TRACK_PREFIX}x"
CROSSED_STREAM = zlib.crc32(b"crossed")  # the crossed set's seed stream (no genre name hashes to it)


class CorpusError(RuntimeError):
    """The corpus as a whole could not be made (every track failed)."""


@dataclass(frozen=True)
class CorpusSettings:
    """The `synthetic` config section (workflow/schemas/sections/synthetic.schema.yaml)."""

    genres: tuple[str, ...] = tuple(GENRES)
    tracks_per_genre: int = 12
    seconds: float = 12.0
    soundfont: str | None = None
    renderer: str = "auto"
    limiter_ceiling_db: float = -1.0
    mix_spread: float = 1.0
    crossed_arrangements: int = 3
    crossed_genres: tuple[str, ...] = ("rock", "jazz", "electronic")

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> "CorpusSettings":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(section) - known
        if unknown:
            raise ValueError(f"synthetic: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        values = dict(section)
        for key in ("genres", "crossed_genres"):
            if key in values:
                values[key] = tuple(values[key])
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
        if self.crossed_arrangements < 0:
            raise ValueError(f"synthetic.crossed_arrangements must be >= 0, got {self.crossed_arrangements}")
        if self.crossed_arrangements > 0 and not self.crossed_genres:
            raise ValueError("synthetic.crossed_genres must name at least one genre when crossed_arrangements > 0")
        for name in self.crossed_genres:
            try:
                get_genre(name)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"synthetic.crossed_genres: {exc}") from None


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


@dataclass(frozen=True)
class CrossedSpec:
    """One held-out arrangement of the crossed set: its content genre, number `index` (k) and seed.

    Its arrangement stream is (seed, CROSSED_STREAM, k) and the mix under style s is (seed, CROSSED_STREAM,
    k, crc32(s)): ordinary tracks use (seed, crc32(genre), index), so neither set draws from the other's
    streams and a crossed track does not depend on which other styles are generated.
    """

    content_genre: str
    index: int
    seed: int
    styles: tuple[str, ...]

    @property
    def arrangement_id(self) -> str:
        return f"{CROSSED_PREFIX}{self.index}"

    @property
    def track_ids(self) -> list[str]:
        return [self.track(style).track_id for style in self.styles]

    def track(self, style: str) -> "CrossedTrackSpec":
        return CrossedTrackSpec(self, style)

    def arrangement_rng(self) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, CROSSED_STREAM, self.index]))

    def mix_rng(self, style: str) -> np.random.Generator:
        entropy = [self.seed, CROSSED_STREAM, self.index, zlib.crc32(style.encode())]
        return np.random.default_rng(np.random.SeedSequence(entropy))


@dataclass(frozen=True)
class CrossedTrackSpec:
    """A crossed track: arrangement `crossed` mixed under the prior of genre `style`."""

    crossed: CrossedSpec
    style: str

    @property
    def track_id(self) -> str:
        return f"{self.crossed.arrangement_id}-{self.style}"


@dataclass
class Track:
    """A generated track in memory: stems as mixed (4, 2, N), their sum, and its metadata row."""

    spec: TrackSpec | CrossedTrackSpec
    stems: np.ndarray
    mixture: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)


def track_specs(config: CorpusSettings, seed: int) -> list[TrackSpec]:
    return [TrackSpec(genre, i, seed) for genre in config.genres for i in range(config.tracks_per_genre)]


def crossed_specs(config: CorpusSettings, seed: int) -> list[CrossedSpec]:
    """The held-out arrangements: number k has content genre crossed_genres[k % len], mixed under every genre."""
    return [CrossedSpec(config.crossed_genres[k % len(config.crossed_genres)], k, seed, tuple(config.genres))
            for k in range(config.crossed_arrangements)]


def _render_dry(arrangement: Arrangement, config: CorpusSettings, soundfont: Path, num_samples: int,
                sample_rate: int) -> list[np.ndarray]:
    return [render_stem(arrangement.stems[stem], soundfont, num_samples, arrangement.tempo_bpm, config.renderer,
                        sample_rate) for stem in STEMS]


def _mix_and_master(dry: list[np.ndarray], style: MixStyle, config: CorpusSettings,
                    sample_rate: int) -> MasterResult:
    processed = [process_stem(audio, style.stems[stem], style.room_size, style.tilt_db, sample_rate)
                 for stem, audio in zip(STEMS, dry)]
    return master(np.stack(processed), style.target_lufs, config.limiter_ceiling_db, sample_rate)


def _record(track_id: str, genre: str, index: int, seed: int, arrangement: Arrangement, style: MixStyle,
            result: MasterResult, soundfont: Path, num_samples: int, sample_rate: int,
            content_genre: str, arrangement_id: str, crossed: bool) -> dict[str, Any]:
    programs = arrangement.programs()
    return {
        "track_id": track_id, "genre": genre, "seconds": num_samples / sample_rate,
        "tempo_bpm": arrangement.tempo_bpm, "key": arrangement.key, "has_vocals": arrangement.has_vocals,
        "seed": seed, "index": index,
        "content_genre": content_genre, "style_genre": genre, "arrangement_id": arrangement_id, "crossed": crossed,
        "integrated_lufs": result.integrated_lufs, "peak_dbfs": result.peak_dbfs,
        "crest_db": result.peak_dbfs - _rms_db(result.mixture),
        "master_gain_db": result.master_gain_db, "limiter_max_gr_db": result.limiter_max_gr_db,
        "soundfont": soundfont.name,
        **{f"program.{stem}": programs[stem] for stem in STEMS},
        **style.flat(),
    }


def generate_track(spec: TrackSpec, config: CorpusSettings, sample_rate: int = SAMPLE_RATE) -> Track:
    """Arrange, render every stem dry, mix it in the genre's style and master it."""
    genre = get_genre(spec.genre)
    arrangement_rng, mix_rng = spec.rngs()
    num_samples = int(round(config.seconds * sample_rate))
    arrangement = arrange(genre, config.seconds, arrangement_rng)
    style = draw_mix(genre.mix, mix_rng, config.mix_spread)
    soundfont = find_soundfont(config.soundfont)
    result = _mix_and_master(_render_dry(arrangement, config, soundfont, num_samples, sample_rate), style, config,
                             sample_rate)
    record = _record(spec.track_id, spec.genre, spec.index, spec.seed, arrangement, style, result, soundfont,
                     num_samples, sample_rate, content_genre=spec.genre, arrangement_id=spec.track_id, crossed=False)
    return Track(spec, result.stems, result.mixture, record)


def generate_crossed(spec: CrossedSpec, config: CorpusSettings, sample_rate: int = SAMPLE_RATE) -> Iterator[Track]:
    """One held-out arrangement, rendered dry once, mixed and mastered under each style's prior in turn.

    Its metadata `genre` is the style (the manifest's genre of a crossed track), `content_genre` the genre
    whose arrangement idiom wrote it.
    """
    num_samples = int(round(config.seconds * sample_rate))
    arrangement = arrange(get_genre(spec.content_genre), config.seconds, spec.arrangement_rng())
    soundfont = find_soundfont(config.soundfont)
    dry = _render_dry(arrangement, config, soundfont, num_samples, sample_rate)
    for style_name in spec.styles:
        track_spec = spec.track(style_name)
        style = draw_mix(get_genre(style_name).mix, spec.mix_rng(style_name), config.mix_spread)
        result = _mix_and_master(dry, style, config, sample_rate)
        record = _record(track_spec.track_id, style_name, spec.index, spec.seed, arrangement, style, result,
                         soundfont, num_samples, sample_rate, content_genre=spec.content_genre,
                         arrangement_id=spec.arrangement_id, crossed=True)
        yield Track(track_spec, result.stems, result.mixture, record)


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
    spec: TrackSpec | CrossedSpec
    config: CorpusSettings
    tracks_dir: Path


_Result = tuple[str, dict[str, Any] | None, str | None, float]  # track_id, record, error, seconds


def _run_job(job: _Job) -> list[_Result]:
    """Worker entry: generate and write one track (or one crossed arrangement's tracks); failures come back
    as a reason, not an exception (a crossed arrangement that fails loses all its styles)."""
    start = time.perf_counter()
    if isinstance(job.spec, CrossedSpec):
        results: list[_Result] = []
        try:
            for track in generate_crossed(job.spec, job.config):
                write_track(track, job.tracks_dir)
                results.append((track.spec.track_id, track.record, None, time.perf_counter() - start))
                start = time.perf_counter()
        except Exception as exc:  # the arrangement's remaining styles fail with it (it has one dry render)
            done = {r[0] for r in results}
            reason = f"{exc.__class__.__name__}: {exc}"
            for track_id in job.spec.track_ids:
                if track_id not in done:
                    shutil.rmtree(job.tracks_dir / track_id, ignore_errors=True)
                    results.append((track_id, None, reason, time.perf_counter() - start))
        return results
    try:
        track = generate_track(job.spec, job.config)
        write_track(track, job.tracks_dir)
        return [(job.spec.track_id, track.record, None, time.perf_counter() - start)]
    except Exception as exc:  # one broken track must not lose the others; the reason is reported
        return [(job.spec.track_id, None, f"{exc.__class__.__name__}: {exc}", time.perf_counter() - start)]


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

    def map(self, fn: Callable[[_Job], list[_Result]], items: Iterable[_Job]) -> Iterator[list[_Result]]:
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


def generate_corpus(out_dir: str | Path, config: CorpusSettings, seed: int, jobs: int = 1) -> CorpusReport:
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
    crossed = crossed_specs(config, seed)
    removed = _clear_stale(tracks_dir, [s.track_id for s in specs] + [t for c in crossed for t in c.track_ids])
    if removed:
        log.info("removed %d stale track folders: %s", len(removed), ", ".join(removed))
    # the crossed arrangements first: each is one job of len(genres) tracks, the longest to run
    work = [_Job(spec, config, tracks_dir) for spec in [*crossed, *specs]]
    start = time.perf_counter()
    records, failures = [], {}
    # spawn, not fork: a forked child of a process whose FluidSynth/torch threads hold a lock deadlocks
    pool_context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=pool_context) if jobs > 1 else _Serial() as pool:
        for results in pool.map(_run_job, work):  # in order, as they finish
            for track_id, record, error, seconds in results:
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
