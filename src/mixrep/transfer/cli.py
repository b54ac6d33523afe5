"""`mixrep transfer`: ST-ITO for every configured (source, target) pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mixrep.audio import AudioError, read_stems
from mixrep.devices import add_runtime_arguments, configure_runtime
from mixrep.errors import EXIT_NO_RESULT, InputError
from mixrep.settings import add_settings_argument, load_settings
from mixrep.tables import read_table
from mixrep.transfer.embedding import encoder_embed_fn, feature_embed_fn
from mixrep.transfer.pairs import Skipped, load_stem_dirs, resolve_pairs
from mixrep.transfer.run import METRICS, TransferSettings, summarise, transfer_pair, write_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixrep transfer", description=__doc__)
    parser.add_argument("--manifest", required=True, help="results/manifest/manifest.parquet")
    parser.add_argument("--stems-index", nargs="+", required=True, help="results/stems/<shard>/index.parquet ...")
    parser.add_argument("--encoder", default=None,
                        help="encoder.pt of the chosen cell (needed when transfer.embedding is 'encoder')")
    parser.add_argument("--out-dir", required=True, help="folder of the per-pair outputs (results/transfer)")
    parser.add_argument("--summary", required=True, help="summary CSV path (summary.md is written beside it)")
    parser.add_argument("--root", default=".", help="folder stem_dir paths are relative to (repo root)")
    add_runtime_arguments(parser, device="cpu")
    add_settings_argument(parser)
    args = parser.parse_args(argv)

    settings = load_settings(args.settings)
    section = settings.get("transfer", {})
    seed = int(settings.get("seed", 0))
    try:
        config = TransferSettings.from_config(section, seed)
    except ValueError as exc:  # unknown preset, parameter or stem
        raise InputError(None, f"settings: {exc}") from None
    configure_runtime(args)

    manifest = read_table(args.manifest, "manifest")
    stem_dirs = load_stem_dirs(args.stems_index)
    pairs, skipped = resolve_pairs(manifest, section.get("pairs") or None, section.get("genre_pairs", []),
                                   section.get("split", "test"), set(stem_dirs))
    if not pairs:
        reasons = "; ".join(f"{s.request}: {s.reason}" for s in skipped) or "no pairs configured"
        print(f"mixrep transfer: no usable (source, target) pair ({reasons})", file=sys.stderr)
        return EXIT_NO_RESULT

    if section.get("embedding", "encoder") == "encoder":
        if not args.encoder:
            parser.error("transfer.embedding is 'encoder' but no --encoder was given")
        embed = encoder_embed_fn(args.encoder, args.device, settings.get("features"))
    else:
        embed = feature_embed_fn()

    rows = []
    root = Path(args.root)
    for pair in pairs:
        try:
            source = read_stems(root / stem_dirs[pair.source])
            target = read_stems(root / stem_dirs[pair.target])
        except AudioError as exc:
            skipped.append(Skipped(pair.name, str(exc)))
            print(f"skipped {pair.name}: {exc}", file=sys.stderr)
            continue
        try:
            result = transfer_pair(pair, source, target, embed, config, Path(args.out_dir) / pair.name)
        except ValueError as exc:  # silent excerpt, too short for the encoder, ...
            skipped.append(Skipped(pair.name, str(exc)))
            print(f"skipped {pair.name}: {exc}", file=sys.stderr)
            continue
        rows += result.rows
        before, after = result.rows[0]["embedding"], result.rows[-1]["embedding"]
        print(f"{pair.name} ({pair.source_genre} -> {pair.target_genre}): embedding distance "
              f"{before:.4f} -> {after:.4f} in {result.ito.curve[-1].evaluations} evaluations, "
              f"{result.seconds:.1f} s ({result.ito.stop_reason})")
    if not rows:
        print("mixrep transfer: every pair failed; see the messages above", file=sys.stderr)
        return EXIT_NO_RESULT
    summary = summarise(rows)
    write_summary(summary, skipped, args.summary)
    for _, mean in summary[summary["pair"] == "mean"].iterrows():
        print(f"mean {mean['method']}: " + ", ".join(f"{m}={mean[m]:.3f}" for m in METRICS))
    return 0
