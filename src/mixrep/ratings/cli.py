"""`mixrep ratings`: build the rated-mix table (simulated listening test or a real ratings CSV)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from mixrep.ratings.csv import REJECTED_COLUMNS, csv_table, load_ratings_csv
from mixrep.ratings.synthetic import synthetic_table
from mixrep.ratings.table import with_folds
from mixrep.settings import add_settings_argument, load_settings
from mixrep.tables import read_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep ratings", description=__doc__)
    parser.add_argument("--manifest", required=True, help="results/manifest/manifest.parquet")
    parser.add_argument("--recipes", nargs="*", default=[],
                        help="every shard's recipes.parquet (synthetic source)")
    parser.add_argument("--metadata", nargs="?", default=None,
                        help="results/corpus/metadata.parquet (synthetic source: the reference mixes' mix.* "
                             "parameters enable the ideal panel model; without them the severity-only model)")
    parser.add_argument("--csv", nargs="*", default=[], help="ratings CSV (csv source; default: ratings.csv)")
    parser.add_argument("--out", required=True, help="ratings.parquet to write")
    parser.add_argument("--rejected", required=True, help="rejected.csv to write (row, mix_path, rater_id, reason)")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    section = settings.get("ratings", {})
    seed = int(settings.get("seed", 0))
    try:
        manifest = read_table(args.manifest, "manifest")
        source = section.get("source", "synthetic")
        fractions = section.get("split_fractions", [0.5, 0.25, 0.25])
        scale = section.get("scale", "absolute")
        if source == "synthetic":
            if not args.recipes:
                raise ValueError("the synthetic source needs --recipes (every shard's recipes.parquet)")
            recipes = pd.concat([read_table(p, "recipes") for p in args.recipes], ignore_index=True)
            metadata = read_table(args.metadata, "corpus metadata") if args.metadata else None
            table = synthetic_table(manifest, recipes, section, seed, metadata=metadata)
            rejected = pd.DataFrame(columns=list(REJECTED_COLUMNS))
        elif source == "csv":
            csv_path = args.csv[0] if args.csv else section.get("csv")
            root = settings.get("dataset", {}).get("root")
            if not csv_path or not root:
                raise ValueError("ratings.source csv needs ratings.csv and dataset.root (the folder of rated mixes)")
            loaded = load_ratings_csv(csv_path, dataset_root=root, manifest=manifest, scale=scale)
            table = csv_table(loaded, scale=scale, fractions=fractions, seed=seed)
            genres = (dict(zip(manifest["track_id"].astype(str), manifest["genre"].fillna("").astype(str)))
                      if "genre" in manifest.columns else {})
            song_genre = {song: genres.get(track, "") for song, track in zip(table["song_id"], table["track_id"])}
            table = with_folds(table, int(section.get("folds", 5)), seed, song_genre)
            rejected = loaded.rejected_frame()
        else:
            raise ValueError(f"ratings.source must be synthetic or csv, got {source!r}")
    except ValueError as error:
        print(f"mixrep ratings: {error}", file=sys.stderr)
        return 1
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(args.out, index=False)
    rejected.to_csv(args.rejected, index=False)
    counts = table.groupby("fold")["song_id"].nunique().to_dict()
    panel = str(table["panel"].iloc[0]) if len(table) else "?"
    note = {"ideal": "simulated, ideal-balance panel", "real": "real",
            "severity": "simulated, severity-only panel (no mix.* metadata: the score is the distance to the "
                        "reference)"}.get(panel, panel)
    print(f"ratings ({note}, {scale}): {len(table)} mixes, songs per fold {counts} "
          f"(fold 0 test, 1 val, rest train), {len(rejected)} rejected row(s)")
    return 0
