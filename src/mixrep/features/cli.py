"""`mixrep features` (one shard) and `mixrep merge-features` (all shards -> results/features.parquet)."""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from pathlib import Path

from mixrep.audio import AudioError
from mixrep.errors import EXIT_BAD_INPUT, Rejected
from mixrep.features.extract import extract_segments
from mixrep.features.settings import FeatureSettings
from mixrep.features.table import build_table, merge_tables, write_table
from mixrep.settings import add_settings_argument, load_settings
from mixrep.tables import read_table
from mixrep.stems import SAMPLE_RATE

log = logging.getLogger("mixrep.features")


def featurize_shard(stems_index: str | Path, recipes: str | Path, settings: FeatureSettings,
                    root: str | Path | None = None, sample_rate: int = SAMPLE_RATE,
                    ) -> tuple[list[tuple[str, int, int]], list[dict[str, float]], list[Rejected]]:
    """Keys (track_id, variant_id, segment), feature rows, and the tracks that failed, for one shard.

    Each track is rendered through `mixrep.degrade.iter_variants` on its own recipe rows, so one track whose
    stems cannot be read (or whose features fail) is listed with its reason and the others go on.
    """
    from mixrep.degrade import iter_variants  # the degrade stage renders the variants (CONTRACTS.md)

    table = read_table(recipes, "recipes", ("track_id", "variant_id"))
    keys: list[tuple[str, int, int]] = []
    rows: list[dict[str, float]] = []
    rejected: list[Rejected] = []
    for track_id, track_recipes in table.groupby("track_id", sort=True):
        track_keys, track_rows = [], []
        try:
            for tid, variant_id, stems in iter_variants(stems_index, track_recipes, root=root,
                                                        sample_rate=sample_rate):
                for segment, row in enumerate(extract_segments(stems, sample_rate, settings)):
                    track_keys.append((tid, int(variant_id), segment))
                    track_rows.append(row)
        except (AudioError, ValueError, FileNotFoundError) as exc:
            log.warning("track %s rejected: %s", track_id, exc)
            rejected.append(Rejected(str(track_id), str(exc)))
            continue
        keys += track_keys
        rows += track_rows
    return keys, rows, rejected


def _write_rejected(path: Path, rejected: list[Rejected]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track_id", "reason"])
        writer.writerows([(r.track_id, r.reason) for r in rejected])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep features", description=__doc__)
    parser.add_argument("--stems", required=True, help="stems index of the shard (results/stems/{shard}/index.parquet)")
    parser.add_argument("--recipes", required=True,
                        help="recipes of the shard (results/variants/{shard}/recipes.parquet)")
    parser.add_argument("--out", required=True, help="features table to write (results/features/{shard}.parquet)")
    parser.add_argument("--rejected", default=None,
                        help="CSV of tracks left out, with reasons (default: <out>.rejected.csv)")
    parser.add_argument("--root", default=".", help="folder the index's stem_dir paths are relative to")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    try:
        settings = FeatureSettings.from_config(load_settings(args.settings))
    except (ValueError, TypeError) as exc:
        print(f"mixrep features: bad settings: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for path in (args.stems, args.recipes):
        if not Path(path).exists():
            print(f"mixrep features: {path}: no such file", file=sys.stderr)
            return EXIT_BAD_INPUT
    started = time.perf_counter()
    keys, rows, rejected = featurize_shard(args.stems, args.recipes, settings, root=args.root)
    out = write_table(build_table(keys, rows), args.out)
    rejected_path = Path(args.rejected) if args.rejected else out.with_name(out.stem + ".rejected.csv")
    _write_rejected(rejected_path, rejected)
    print(f"features: {len(rows)} rows ({len({k[0] for k in keys})} tracks) x {len(rows[0]) if rows else 0} "
          f"columns -> {out} in {time.perf_counter() - started:.1f} s; {len(rejected)} tracks rejected "
          f"-> {rejected_path}", file=sys.stderr)
    return 0


def merge_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep merge-features", description="merge per-shard feature tables")
    parser.add_argument("--inputs", nargs="*", default=[], help="per-shard tables (results/features/*.parquet)")
    parser.add_argument("--out", required=True, help="merged table (results/features.parquet)")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    try:
        table = merge_tables(sorted(args.inputs))
        write_table(table, args.out)
    except (ValueError, FileNotFoundError) as exc:
        print(f"mixrep merge-features: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"merge-features: {len(args.inputs)} shards, {table.num_rows} rows -> {args.out}", file=sys.stderr)
    return 0
