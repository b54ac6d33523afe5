"""Command-line entries of the separation stage: train-separator, separate, eval-separation.

Each reads its config from `--settings` (the `separation` section plus `seed`), its inputs and outputs
from explicit paths, and reports bad input as one line naming the file and the problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd
import torch

from mixrep.errors import InputError
from mixrep.separation.scnet import CPU_KWARGS
from mixrep.settings import add_settings_argument, load_settings, write_json

log = logging.getLogger("mixrep.separation")

DEFAULTS: dict = {
    "method": "scnet",
    "checkpoint": None,
    "checkpoint_model": "small",
    "threads": 0,
    "model": CPU_KWARGS,
}


def _section(settings: dict) -> dict:
    section = {**DEFAULTS, **(settings.get("separation") or {})}
    section["model"] = {**CPU_KWARGS, **(section.get("model") or {})}
    section["seed"] = int(settings.get("seed", 0))
    return section


def _setup(argv: list[str] | None, parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, dict]:
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    section = _section(load_settings(args.settings))
    if section["threads"]:
        torch.set_num_threads(int(section["threads"]))
    return args, section


def _read_table(path: str, what: str) -> pd.DataFrame:
    """A parquet input, or InputError(path, ...) naming what it should have been."""
    if not Path(path).is_file():
        raise InputError(path, f"no such file (the {what})")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(path, f"cannot read the {what} ({exc.__class__.__name__}: "
                               f"{' '.join(str(exc).split())})") from None


def _read_manifest(path: str) -> pd.DataFrame:
    return _read_table(path, "manifest")


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


def _model_kwargs_for_checkpoint(section: dict) -> dict | str:
    """Constructor of a checkpoint that does not describe itself: a preset name, or `model` from config."""
    choice = section["checkpoint_model"]
    return section["model"] if choice == "model" else choice


def train_main(argv: list[str] | None = None) -> int:
    """Train SCNet on the manifest's train-split stems; best on val; curve beside the checkpoint."""
    from mixrep.separation.train import TrainConfig, train_separator

    parser = argparse.ArgumentParser(prog="mixrep train-separator", description=train_main.__doc__)
    parser.add_argument("--manifest", required=True, help="results/manifest/manifest.parquet")
    parser.add_argument("--checkpoint", required=True,
                        help="output checkpoint; curve.csv and curve.png are written beside it")
    args, section = _setup(argv, parser)
    try:
        config = TrainConfig.from_dict(section.get("train"))
        result = train_separator(_read_manifest(args.manifest), dict(section["model"]), config,
                                 Path(args.checkpoint).parent, section["seed"])
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"train-separator: {exc}") from None
    if Path(args.checkpoint) != result.checkpoint:
        result.checkpoint.replace(args.checkpoint)
    log.info("best step %d, validation SDR %.3f dB; %d tracks rejected", result.best_step,
             result.best_val_sdr, len(result.rejected))
    return 0


def separate_main(argv: list[str] | None = None) -> int:
    """Separate the tracks of one shard; write stems and results/stems/{shard}/index.parquet."""
    from mixrep.separation.apply import ApplySettings
    from mixrep.separation.checkpoint import CheckpointError, load_separator
    from mixrep.separation.separate import separate_shard

    parser = argparse.ArgumentParser(prog="mixrep separate", description=separate_main.__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--shards", required=True, help="results/manifest/shards.json")
    parser.add_argument("--shard", required=True, help="shard name, e.g. shard-000")
    parser.add_argument("--checkpoint", nargs="*", default=[],
                        help="SCNet weights (method scnet); may be empty for the oracle")
    parser.add_argument("--out", required=True, help="index.parquet; stems go into its folder")
    args, section = _setup(argv, parser)
    shards = _read_shards(args.shards)
    manifest = _read_manifest(args.manifest)
    if args.shard not in shards:
        raise InputError(args.shards, f"no shard {args.shard!r} (has {sorted(shards)[:5]}...)")
    method = section["method"]
    checkpoints = [path for path in args.checkpoint if path]
    separator = None
    if method == "scnet":
        if len(checkpoints) != 1:
            raise SystemExit(f"separate: method 'scnet' needs one --checkpoint, got {checkpoints}")
        try:
            separator = load_separator(checkpoints[0], _model_kwargs_for_checkpoint(section))
        except (CheckpointError, ValueError) as exc:
            raise SystemExit(f"separate: {exc}") from None
    settings = ApplySettings.from_dict(section.get("inference"), seed=section["seed"])
    table = separate_shard(manifest, list(shards[args.shard]), Path(args.out).parent,
                           method, separator, settings, stem_format=section.get("stem_format", "flac24"))
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
    index = pd.concat([_read_table(path, "stems index") for path in args.stems_index], ignore_index=True)
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
