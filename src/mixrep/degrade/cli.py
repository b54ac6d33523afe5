"""`mixrep degrade`: recipes of one shard (and, on request, its rendered mixes for listening)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from mixrep.degrade.config import DegradeSettings
from mixrep.degrade.shard import degrade_shard
from mixrep.errors import EXIT_BAD_INPUT
from mixrep.settings import add_settings_argument, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixrep degrade", description=__doc__)
    parser.add_argument("--stems", required=True, help="stems index of the shard (results/stems/{shard}/index.parquet)")
    parser.add_argument("--out", required=True, help="recipes table to write (results/variants/{shard}/recipes.parquet)")
    parser.add_argument("--rejected", default=None,
                        help="CSV of tracks whose stems could not be read (default: rejected.csv beside --out)")
    parser.add_argument("--root", default=".", help="folder the index's stem_dir paths are relative to")
    parser.add_argument("--write-audio", default=None, metavar="DIR",
                        help="also write every rendered mix as float WAV under DIR/<track>/variant-NN.wav")
    add_settings_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings(args.settings)
    try:
        config = DegradeSettings.from_config(settings.get("degrade"))
    except ValueError as exc:
        print(f"mixrep degrade: bad settings: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    seed = int(settings.get("seed", 0))
    try:
        table, rejected = degrade_shard(args.stems, config, seed, root=args.root, audio_dir=args.write_audio)
    except (ValueError, FileNotFoundError) as exc:
        print(f"mixrep degrade: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    rejected_path = Path(args.rejected) if args.rejected else out.with_name("rejected.csv")
    pd.DataFrame([vars(r) for r in rejected], columns=["track_id", "reason"]).to_csv(rejected_path, index=False)
    tracks = table["track_id"].nunique()
    hot = int((table["headroom_gain_db"] != 0).sum())
    print(f"degrade: {tracks} tracks x {config.variants_per_track + 1} variants = {len(table)} recipes -> {out}; "
          f"{hot} needed headroom gain; {len(rejected)} tracks rejected -> {rejected_path}", file=sys.stderr)
    if len(table):
        print(f"severity: median {table['severity'].median():.2f}, max {table['severity'].max():.2f} JND",
              file=sys.stderr)
    return 0
