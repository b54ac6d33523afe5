"""What a run will cost, before the heavy stages: jobs per rule, disk per stage, peak memory, CPU/GPU-hours.

`mixrep plan --configfile my.yaml [--manifest results/manifest/manifest.parquet | --tracks N]` prints the plan;
the workflow's `plan` rule (workflow/rules/plan.smk) runs it right after the manifest checkpoint, so the numbers
are on the console before separation starts.

Jobs per rule are counted from the rule files themselves (workflow/rules/*.smk): a rule whose outputs hold the
`{shard}` wildcard runs once per shard, `{run}` once per ablation cell, `{seed}` once per seed, any other
wildcard never from `all`; a few rules depend on the config (CONDITIONAL). So renaming or merging per-shard
rules (degrade / features / mels -> analyse) needs no change here; tests/test_plan.py checks the counts
against `snakemake -n`.

Costs scale measured per-item constants (COSTS: one table, each with where it comes from) by the tracks, their
duration, the variants per track and the config's sizes.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from mixrep.errors import InputError
from mixrep.separation import separators
from mixrep.stems import SAMPLE_RATE, STEMS

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "workflow" / "rules"
# Rules planned only under a condition of the config (else never): name -> predicate.
CONDITIONAL = {
    "corpus": lambda c: c["dataset"]["source"] == "synthetic",
    "train_separator": lambda c: separators.trains_here(c["separation"]),
    "mushra_analysis": lambda c: bool(c["mushra"].get("results_csv")),
}
COUNTED_WILDCARDS = frozenset({"shard", "run", "seed", "source", "control"})
# The reference run of COSTS: README "Per-job cost" (results/benchmarks/ of the last default run): the
# default config, 96 synthetic tracks of 12 s in 6 shards of 16, 8 variants + reference per track, CPU.
REF_TRACK_S = 12.0
REF_SHARD_TRACKS = 16
REF_TRACKS = 96


@dataclass(frozen=True)
class Cost:
    """One measured constant: seconds per unit of work and the peak RSS of one job, with its source."""

    seconds: float
    per: str  # "audio_s" (seconds of track audio), "track" (per track per cell), "job" (fixed)
    device: str  # cpu | gpu: which hours it counts as (GPU rules measured on CPU here: an upper bound)
    peak_rss_mb: float | None
    source: str


# Every constant of the plan. "audio_s" constants are the README's per-shard mean divided by 16 tracks x 12 s.
COSTS: dict[str, Cost] = {
    "train_separator": Cost(1890.0, "job", "gpu", 2400, "README Per-job cost: 1890 s / 2.4 GB (1200 steps, CPU)"),
    "separate": Cost(37.0 / (REF_SHARD_TRACKS * REF_TRACK_S), "audio_s", "gpu", 1700,
                     "README: 37 s per 16-track shard / 1.7 GB (CPU-sized SCNet on CPU)"),
    "degrade": Cost(17.0 / (REF_SHARD_TRACKS * REF_TRACK_S), "audio_s", "cpu", None, "README: 17 s per shard"),
    "features": Cost(18.0 / (REF_SHARD_TRACKS * REF_TRACK_S), "audio_s", "cpu", None, "README: 18 s per shard"),
    "mels": Cost(13.0 / (REF_SHARD_TRACKS * REF_TRACK_S), "audio_s", "cpu", None, "README: 13 s per shard"),
    # analyse = degrade + features + mels of one shard (the merged rule): the sum until its benchmark exists
    "analyse": Cost(48.0 / (REF_SHARD_TRACKS * REF_TRACK_S), "audio_s", "cpu", None,
                    "sum of degrade + features + mels (README); re-measure with the analyse benchmark"),
    "pretrain": Cost(60.0 / REF_TRACKS, "track", "gpu", 2000, "README: 60 s per cell / 2.0 GB (demo preset, CPU)"),
    "embed": Cost(15.0 / REF_TRACKS, "track", "gpu", None, "README: 15 s per cell"),
    "embed_random": Cost(15.0 / REF_TRACKS, "track", "gpu", None, "as embed"),
    "regress": Cost(7.0, "job", "cpu", None, "README: 7 s per cell"),
    "tsne": Cost(6.0, "job", "cpu", None, "README: 6 s per cell"),
    "transfer": Cost(115.0, "job", "gpu", None, "README: 115 s for 2 pairs"),
}
# Disk, per 30 s of stems (4 stereo stems at 44.1 kHz): float32 is exact arithmetic; flac24 measured by
# benchmarks/stem_storage.py (4 synthetic corpus tracks of 30 s: 14.9 MB against 42.3 MB; dense real music
# compresses less, so this is a lower bound, float32 the upper one).
STEM_BYTES_PER_S = {"float32": len(STEMS) * 2 * 4 * SAMPLE_RATE, "flac24": 14.9e6 / 30.0}
MEL_HOP, MEL_BANDS, MEL_BYTES = 256, 128, 2  # mixrep.model.frontend defaults; float16 store (pretrain/mels.py)
FEATURE_COLUMNS_BYTES = 180 * 4 + 64  # one row: 180 float32 features + ids (docs/features.md)
ENCODER_BYTES = {"demo": 2.0e6, "paper": 0.35e9}  # encoder.pt + optimiser state: demo measured order, paper ~86 M params x 4


@dataclass
class Plan:
    """The numbers `mixrep plan` prints."""

    tracks: int
    duration_s: float
    shards: int
    jobs: dict[str, int]
    disk_bytes: dict[str, float]
    hours: dict[str, float] = field(default_factory=dict)  # cpu / gpu
    peak_rss_mb: dict[str, float | None] = field(default_factory=dict)

    @property
    def total_jobs(self) -> int:
        return sum(self.jobs.values())


def deep_merge(base: dict, over: Mapping) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) \
            else value
    return out


def load_config(config_files: Sequence[str | Path]) -> dict[str, Any]:
    """config.yaml of the repository merged with each file in turn (as Snakemake's --configfile does), validated."""
    config: dict[str, Any] = yaml.safe_load((REPO / "config.yaml").read_text())
    for path in config_files:
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "config file not found")
        if path.resolve() == (REPO / "config.yaml").resolve():
            continue
        config = deep_merge(config, yaml.safe_load(path.read_text()) or {})
    return validated(config)


def validated(config: dict[str, Any]) -> dict[str, Any]:
    """The config as the workflow sees it: validated against the assembled schema, every default filled in."""
    from mixrep.workflow_config import ConfigError, validate_config

    try:
        validate_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    except ConfigError as error:
        raise InputError(None, error.line()) from None
    return config


_RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t].*\n|\n)*)", re.MULTILINE)
_SECTION = re.compile(r"^    output:\n((?:        .*\n)*)", re.MULTILINE)
_WILDCARD = re.compile(r"\{\{(\w+)\}\}")


def rule_wildcards(rules_dir: Path = RULES_DIR) -> dict[str, frozenset[str]]:
    """Each rule of the workflow -> the wildcards in its outputs (from the .smk files' output sections)."""
    found: dict[str, frozenset[str]] = {}
    for path in sorted(rules_dir.glob("*.smk")):
        for name, body in _RULE.findall(path.read_text()):
            section = _SECTION.search(body)
            found[name] = frozenset(_WILDCARD.findall(section.group(1) if section else ""))
    return found


def jobs_per_rule(config: Mapping[str, Any], shards: int, rules_dir: Path = RULES_DIR,
                  done: Sequence[str] = ()) -> dict[str, int]:
    """Jobs of each rule in a run of `all` from scratch (minus the rules in `done`), as snakemake -n plans it."""
    from mixrep.workflow_config import EMBED_CONTROLS, grid_sources

    sources = grid_sources(config)
    runs, seeds = len(sources.runs), len(sources.seeds)
    # rules whose wildcard ranges over a subset of the cells or the sources (the rules' wildcard_constraints)
    per_rule = {"embed": len(sources.unconditioned) * seeds, "embed_conditioned": len(sources.conditioned) * seeds,
                "embed_control": len(EMBED_CONTROLS), "evaluate": len(sources.embedded),
                "evaluate_control": len(sources.sources) - len(sources.embedded), "regress": 1}  # regress: the bundle's default cell only
    jobs: dict[str, int] = {"all": 1}
    for name, wildcards in rule_wildcards(rules_dir).items():
        if name in done or (name in CONDITIONAL and not CONDITIONAL[name](config)):
            continue
        if wildcards - COUNTED_WILDCARDS:
            continue  # e.g. unknown_cell: only ever asked for by hand
        count = per_rule.get(name, (shards if "shard" in wildcards else 1) * (runs if "run" in wildcards else 1)
                             * (seeds if "seed" in wildcards else 1))
        if count:
            jobs[name] = count
    return jobs


def disk_per_stage(config: Mapping[str, Any], tracks: int, duration_s: float) -> dict[str, float]:
    """Bytes each stage leaves on disk."""
    variants = int(config["degrade"]["variants_per_track"]) + 1
    fmt = config["separation"]["stem_format"]
    mel_frames = 1 + int(min(float(config["pretrain"]["mel_max_s"]), duration_s / max(tracks, 1)) * SAMPLE_RATE
                         ) // MEL_HOP
    from mixrep.workflow_config import grid_sources

    grid = grid_sources(config)
    cells = len(grid.runs) * len(grid.seeds)
    return {
        f"stems ({fmt})": duration_s * STEM_BYTES_PER_S[fmt],
        "mel store": tracks * variants * mel_frames * len(STEMS) * 2 * MEL_BANDS * MEL_BYTES,
        "features": tracks * variants * FEATURE_COLUMNS_BYTES,
        "checkpoints": cells * ENCODER_BYTES.get(config["pretrain"]["preset"], ENCODER_BYTES["paper"]),
    }


def make_plan(config: Mapping[str, Any], tracks: int, duration_s: float, shards: int | None = None,
              rules_dir: Path = RULES_DIR) -> Plan:
    """The plan of `config` for `tracks` usable tracks of `duration_s` seconds in all."""
    shards = shards if shards is not None else math.ceil(tracks / int(config["shard_size"]))
    jobs = jobs_per_rule(config, shards, rules_dir)
    hours = {"cpu": 0.0, "gpu": 0.0}
    rss: dict[str, float | None] = {}
    for name, count in jobs.items():
        cost = COSTS.get(name)
        if cost is None:
            continue
        if cost.per == "audio_s":
            seconds = cost.seconds * duration_s
        elif cost.per == "track":
            seconds = cost.seconds * tracks * count
        else:
            seconds = cost.seconds * count
        hours[cost.device] += seconds / 3600
        rss[name] = cost.peak_rss_mb
    return Plan(tracks, duration_s, shards, jobs, disk_per_stage(config, tracks, duration_s), hours, rss)


def _size(n_bytes: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes:.0f} B"


def render(plan: Plan) -> str:
    """The plan as console text."""
    lines = [f"plan: {plan.tracks} tracks, {plan.duration_s / 3600:.1f} h of audio, {plan.shards} shards, "
             f"{plan.total_jobs} jobs", "jobs per rule:"]
    lines += [f"  {name:<18} {count:>7}" for name, count in sorted(plan.jobs.items())]
    lines.append("disk per stage:")
    lines += [f"  {name:<18} {_size(value):>10}" for name, value in plan.disk_bytes.items()]
    lines.append("peak memory per job (measured; - = not measured, see the profile's mem_mb):")
    lines += [f"  {name:<18} {('-' if mb is None else f'{mb / 1000:.1f} GB'):>10}"
              for name, mb in sorted(plan.peak_rss_mb.items())]
    lines.append(f"compute: {plan.hours['cpu']:.1f} CPU-hours, {plan.hours['gpu']:.1f} GPU-rule hours "
                 "(GPU rules measured on CPU: an upper bound)")
    lines.append("constants: mixrep.plan.COSTS / STEM_BYTES_PER_S (README 'Per-job cost', benchmarks/stem_storage.py)")
    return "\n".join(lines) + "\n"


def read_manifest_counts(path: str | Path) -> tuple[int, float, int]:
    """(usable tracks, their seconds, shards) of a manifest.parquet."""
    import pandas as pd

    try:
        table = pd.read_parquet(path, columns=["status", "duration_s", "shard"])
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read the manifest ({exc})") from None
    ok = table[table["status"] == "ok"]
    return len(ok), float(ok["duration_s"].sum()), int(ok["shard"].nunique())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep plan", description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", nargs="*", default=[], help="config files merged over config.yaml")
    parser.add_argument("--config-json", help="the whole merged config as JSON (what the workflow's plan rule passes)")
    parser.add_argument("--rules-dir", type=Path, default=RULES_DIR, help="workflow/rules of the workflow")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="manifest.parquet: its ok tracks, durations and shards")
    source.add_argument("--tracks", type=int, help="a number of tracks instead of a manifest")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per track with --tracks")
    args = parser.parse_args(argv)
    if args.config_json:
        import json

        config = json.loads(args.config_json)
    else:
        config = load_config(args.configfile)
    if not args.rules_dir.is_dir():
        raise InputError(args.rules_dir, "not a folder of workflow rules (--rules-dir)")
    if args.manifest:
        tracks, duration, shards = read_manifest_counts(args.manifest)
        plan = make_plan(config, tracks, duration, shards, args.rules_dir)
    else:
        plan = make_plan(config, args.tracks, args.tracks * args.seconds, rules_dir=args.rules_dir)
    sys.stdout.write(render(plan))
    return 0
