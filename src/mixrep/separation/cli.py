"""Command-line entries of the separation stage: train-separator, separate, eval-separation.

Each reads its config from `--settings` (the `separation` section plus `seed`), its inputs and outputs
from explicit paths, and reports bad input as one line naming the file and the problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from mixrep.devices import add_runtime_arguments, configure_runtime
from mixrep.errors import InputError
from mixrep.separation import separators
from mixrep.separation.separators import SEPARATORS
from mixrep.settings import add_settings_argument, load_settings, write_json
from mixrep.tables import read_table

log = logging.getLogger("mixrep.separation")

# The section schema: the one home of the defaults of the keys every separator shares (method, checkpoint, ...);
# the settings sections (inference, a separator's own) take theirs from their dataclasses.
SECTION_SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "sections" / "separation.schema.yaml"


@lru_cache(maxsize=1)
def _schema_properties() -> dict:
    return yaml.safe_load(SECTION_SCHEMA.read_text())["properties"]


def _schema_defaults() -> dict:
    return {key: prop["default"] for key, prop in _schema_properties().items() if "default" in prop}


def _section(settings: dict) -> dict:
    given = dict(settings.get("separation") or {})
    known = set(_schema_properties()) | set(separators.sections())
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError("--settings", f"separation: unknown keys {unknown} (known: {sorted(known)})")
    section = {**_schema_defaults(), **given}
    section["seed"] = int(settings.get("seed", 0))
    return section


def _setup(argv: list[str] | None, parser: argparse.ArgumentParser,
           device: str | None = None) -> tuple[argparse.Namespace, dict]:
    """Parse, log to stderr, read the section; `--threads` (and `--device` where the command takes one) from the
    rule set torch's threads (`mixrep.devices`)."""
    add_settings_argument(parser)
    add_runtime_arguments(parser, device=device)
    args = parser.parse_args(argv)
    section = _section(load_settings(args.settings))
    configure_runtime(args)
    return args, section


def _read_manifest(path: str) -> pd.DataFrame:
    return read_table(path, "manifest")


def _read_shards(path: str) -> dict:
    """shards.json: {shard name: [track ids]}."""
    if not Path(path).is_file():
        raise InputError(path, "no such file (the shards table, results/manifest/shards.json)")
    try:
        shards = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a JSON shards table ({' '.join(str(exc).split())})") from None
    if not isinstance(shards, dict):
        raise InputError(path, f"expected an object {{shard: [track ids]}}, got {type(shards).__name__}")
    return shards


def train_main(argv: list[str] | None = None) -> int:
    """Train the configured separator (SCNet) on the manifest's train-split stems; best on val; curve beside
    the checkpoint."""
    parser = argparse.ArgumentParser(prog="mixrep train-separator", description=train_main.__doc__)
    parser.add_argument("--manifest", required=True, help="results/manifest/manifest.parquet")
    parser.add_argument("--checkpoint", required=True,
                        help="output checkpoint; curve.csv and curve.png are written beside it")
    args, section = _setup(argv, parser)
    try:
        kind = SEPARATORS.get(section["method"])
        if kind.train is None:
            raise ValueError(f"separator {section['method']!r} has nothing to train")
        kind.train(_read_manifest(args.manifest), section, Path(args.checkpoint), section["seed"])
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"train-separator: {exc}") from None
    return 0


def separate_main(argv: list[str] | None = None) -> int:
    """Separate the tracks of one shard; write stems and results/stems/{shard}/index.parquet."""
    from mixrep.separation.apply import ApplySettings
    from mixrep.separation.separate import separate_shard

    parser = argparse.ArgumentParser(prog="mixrep separate", description=separate_main.__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--shards", required=True, help="results/manifest/shards.json")
    parser.add_argument("--shard", required=True, help="shard name, e.g. shard-000")
    parser.add_argument("--checkpoint", nargs="*", default=[],
                        help="the separator's weights (e.g. scnet); empty for one without (the oracle)")
    parser.add_argument("--out", required=True, help="index.parquet; stems go into its folder")
    args, section = _setup(argv, parser, device="auto")
    shards = _read_shards(args.shards)
    manifest = _read_manifest(args.manifest)
    if args.shard not in shards:
        raise InputError(args.shards, f"no shard {args.shard!r} (has {sorted(shards)[:5]}...)")
    method = section["method"]
    checkpoints = [path for path in args.checkpoint if path]
    try:
        kind = SEPARATORS.get(method)
        if kind.checkpoint and len(checkpoints) != 1:
            raise ValueError(f"method {method!r} needs one --checkpoint, got {checkpoints}")
        loaded = kind.load(checkpoints[0] if checkpoints else None, section)
        settings = ApplySettings.from_config(section.get("inference"), seed=section["seed"], device=args.device)
    except ValueError as exc:
        raise SystemExit(f"separate: {exc}") from None
    table = separate_shard(manifest, list(shards[args.shard]), Path(args.out).parent,
                           method, loaded, settings, stem_format=section["stem_format"])
    failed = table[table["status"] != "ok"]
    if len(table) and len(failed) == len(table):
        raise SystemExit(f"separate: every track of {args.shard} failed; first: "
                         f"{failed.iloc[0]['track_id']}: {failed.iloc[0]['reason']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(args.out, index=False)
    log.info("%s: %d separated, %d failed", args.shard, len(table) - len(failed), len(failed))
    return 0


def eval_main(argv: list[str] | None = None) -> int:
    """SDR / SI-SDR / museval-style SDR of the separated stems, the oracle and the mixture/4 baseline on the
    test split. A source without true stems (FMA, a folder of audio) gets outputs that say so, exit 0."""
    from mixrep.separation.evaluate import evaluate, markdown_table

    parser = argparse.ArgumentParser(prog="mixrep eval-separation", description=eval_main.__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--stems-index", required=True, nargs="+", help="results/stems/*/index.parquet")
    parser.add_argument("--out-json", required=True)
    parser.add_argument("--out-md", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--museval", action="store_true",
                        help="compute the museval-style SDR with museval itself (about 10 s CPU per 12 s track and "
                             "system) instead of mixrep's equal implementation, and record their difference")
    args, section = _setup(argv, parser)
    manifest = _read_manifest(args.manifest)
    index = pd.concat([read_table(path, "stems index") for path in args.stems_index], ignore_index=True)
    result = evaluate(manifest, index, args.split, use_museval=args.museval)
    if result["num_tracks"] == 0 and result["tracks_with_true_stems"] > 0:
        first = result["skipped"][0]
        raise InputError(args.manifest, f"{result['tracks_with_true_stems']} {args.split}-split tracks have true "
                                        f"stems but none could be scored; first: {first['track_id']}: "
                                        f"{first['reason']}")
    if result["num_tracks"] == 0:
        log.warning("%s", result["note"])
    result["settings"] = {key: section.get(key) for key in ("method", "checkpoint", "inference", "seed")}
    write_json(args.out_json, result)
    Path(args.out_md).write_text(markdown_table(result))
    print(markdown_table(result))
    return 0
