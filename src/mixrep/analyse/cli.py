"""`mixrep analyse`: one pass over a shard (docs/degrade.md, docs/features.md, docs/pretrain.md).

Replaces the degrade, features and mels shard jobs: the stems are read once per track, each variant is
rendered once, and the log says how many renders were made (= variants).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mixrep.analyse.outputs import write_analysis
from mixrep.analyse.settings import AnalyseSettings
from mixrep.analyse.shard import analyse_shard
from mixrep.devices import add_runtime_arguments, configure_runtime
from mixrep.errors import EXIT_BAD_INPUT
from mixrep.settings import add_settings_argument, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep analyse", description=__doc__)
    parser.add_argument("--stems", required=True, help="results/stems/{shard}/index.parquet")
    parser.add_argument("--recipes", required=True, help="results/variants/{shard}/recipes.parquet")
    parser.add_argument("--rejected", required=True, help="results/variants/{shard}/rejected.csv")
    parser.add_argument("--features", required=True, help="results/features/{shard}.parquet")
    parser.add_argument("--features-rejected", required=True, help="results/features/{shard}.rejected.csv")
    parser.add_argument("--segments", required=True, help="results/features/segments/{shard}.parquet")
    parser.add_argument("--mels", required=True, help="results/mels/{shard}.npz")
    parser.add_argument("--root", default=".", help="folder the index's stem_dir paths are relative to")
    add_runtime_arguments(parser, device=None)  # rendering and Mels run on the CPU
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    configure_runtime(args)
    try:
        settings = AnalyseSettings.from_config(load_settings(args.settings))
    except (ValueError, TypeError) as exc:
        print(f"mixrep analyse: bad settings: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not Path(args.stems).exists():
        print(f"mixrep analyse: {args.stems}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    started = time.perf_counter()
    try:
        analysis = analyse_shard(args.stems, settings, root=args.root)
    except (ValueError, FileNotFoundError) as exc:
        print(f"mixrep analyse: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    write_analysis(analysis, settings.pretrain, recipes=args.recipes, rejected=args.rejected,
                   features=args.features, features_rejected=args.features_rejected, segments=args.segments,
                   mels=args.mels)
    tracks = len({row.track_id for row in analysis.recipes})
    print(f"analyse: {tracks} tracks, {len(analysis.recipes)} variants, {analysis.renders} renders "
          f"(each variant rendered once); {len(analysis.feature_rows)} feature rows, {len(analysis.segment_rows)} "
          f"segment rows, {len(analysis.mel_items)} Mel items; {len(analysis.rejected)} tracks rejected; "
          f"excerpt_s {settings.excerpt_s}; {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
