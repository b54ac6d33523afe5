"""`mixrep mushra-package`, `mixrep mushra-analysis`, `mixrep serve-mushra`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mixrep.audio import AudioError, read_stems
from mixrep.devices import add_runtime_arguments, configure_runtime
from mixrep.errors import InputError
from mixrep.settings import add_settings_argument, load_settings
from mixrep.tables import read_table


# Id columns stay text: FMA's "000010" would otherwise be read as the number 10 (10.0 beside a NaN) and match
# no track.
TEXT_COLUMNS: tuple[str, ...] = ("pair", "source", "target", "source_genre", "target_genre", "track_id")


def package_main(argv: list[str] | None = None) -> int:
    """Build the webMUSHRA folder from the transfer outputs, the recipes and the stems."""
    from mixrep.degrade import render_variant
    from mixrep.mushra.package import (PackageSettings, build_item, load_reference, pick_by_severity, write_item,
                                       write_package)
    from mixrep.transfer.pairs import load_stem_dirs

    parser = argparse.ArgumentParser(prog="mixrep mushra-package", description=package_main.__doc__)
    parser.add_argument("--transfer-summary", required=True, help="results/transfer/summary.csv")
    parser.add_argument("--manifest", required=True, help="results/manifest/manifest.parquet (original mixes)")
    parser.add_argument("--stems-index", nargs="+", required=True, help="results/stems/<shard>/index.parquet ...")
    parser.add_argument("--recipes", nargs="+", required=True, help="results/variants/<shard>/recipes.parquet ...")
    parser.add_argument("--encoder", default=None, help="encoder.pt: with --regressor, predicted quality per stimulus")
    parser.add_argument("--regressor", default=None, help="regressor.pt of the same cell")
    parser.add_argument("--out-dir", required=True, help="package folder (results/mushra/package)")
    parser.add_argument("--root", default=".", help="folder relative paths are resolved against")
    add_runtime_arguments(parser, device="cpu")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    section = settings.get("mushra", {})
    config = PackageSettings.from_config(section)
    root = Path(args.root)

    summary = read_table(args.transfer_summary, "transfer summary", ("method", "pair", "source", "target"),
                         text_columns=TEXT_COLUMNS)
    transfers = summary[summary["method"] == "transfer"].drop_duplicates("pair")
    if transfers.empty:
        raise InputError(args.transfer_summary, "no transferred pair (method == 'transfer') to build items from")
    manifest = read_table(args.manifest, "manifest", ("track_id", "path")).set_index("track_id")
    for path in args.stems_index:
        read_table(path, "stems index", ("track_id", "stem_dir"))
    stem_dirs = load_stem_dirs(args.stems_index)
    recipes = pd.concat([read_table(p, "recipes", ("track_id", "variant_id", "severity", "effects"))
                         for p in args.recipes], ignore_index=True)
    if args.encoder and args.regressor:
        configure_runtime(args)
    predict = _predictor(args.encoder, args.regressor, args.device, settings.get("features"))

    pages, records, skipped = [], [], []
    for k, row in enumerate(transfers.itertuples(index=False), start=1):
        source, pair = str(row.source), str(row.pair)
        try:
            reference = load_reference(root / str(manifest.loc[source, "path"]))
            source_stems = read_stems(root / stem_dirs[source])
            transfer_stems = read_stems(Path(args.transfer_summary).parent / pair / "stems")
        except AudioError as exc:
            skipped.append((exc.path, f"item {pair}: {exc.problem}"))
            continue
        except KeyError as exc:
            skipped.append((args.manifest if source not in manifest.index else args.stems_index[0],
                            f"item {pair}: track {exc} not listed"))
            continue
        chosen = pick_by_severity(recipes[recipes["track_id"].astype(str) == source], config.degraded_levels)
        degraded = [(int(r.variant_id), float(r.severity), render_variant(source_stems, r.effects))
                    for r in chosen.itertuples(index=False)]
        stimuli = build_item(reference, source_stems, transfer_stems, degraded, config)
        page, item_records = write_item(Path(args.out_dir), pair, f"trial{k:02d}", stimuli, config, predict,
                                        {"track_id": source, "pair": pair, "target": str(row.target)})
        pages.append(page)
        records += item_records
        spread = max(r["lufs"] for r in item_records) - min(r["lufs"] for r in item_records)
        print(f"trial{k:02d} {pair}: {len(item_records)} stimuli at {item_records[0]['target_lufs']:.1f} LUFS "
              f"(spread {spread:.3f} LU), {len(degraded)} degraded variants")
    if not pages:
        file, problem = skipped[0]
        more = f" (and {len(skipped) - 1} more items)" if len(skipped) > 1 else ""
        raise InputError(file, f"no item could be built: {problem}{more}")
    for file, problem in skipped:
        print(f"warning: skipped {problem} ({file})", file=sys.stderr)
    path = write_package(args.out_dir, pages, records, config)
    print(f"wrote {path} ({len(pages)} items) and {Path(args.out_dir) / 'stimuli.parquet'}")
    return 0


def _predictor(encoder: str | None, regressor: str | None, device: str, feature_settings: dict | None):
    """stems (B, 4, 2, N) -> predicted quality, or None when no model is given."""
    if not encoder or not regressor:
        return None
    from mixrep.evaluation import load_regressor
    from mixrep.transfer.embedding import encoder_embed_fn

    embed = encoder_embed_fn(encoder, device, feature_settings)
    model = load_regressor(regressor)

    def predict(stems: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(embed(stems)), dtype=np.float64)

    return predict


def analysis_main(argv: list[str] | None = None) -> int:
    """Screen assessors and analyse a webMUSHRA mushra.csv."""
    from mixrep.mushra.analysis import RatingsError, ScreeningSettings, analyse

    parser = argparse.ArgumentParser(prog="mixrep mushra-analysis", description=analysis_main.__doc__)
    parser.add_argument("--results", required=True, help="webMUSHRA results/<testId>/mushra.csv")
    parser.add_argument("--stimuli", default=None, help="stimuli.parquet of the package (conditions, predictions)")
    parser.add_argument("--out-dir", required=True, help="results/mushra/analysis")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    section = settings.get("mushra", {})
    screening = ScreeningSettings(**section.get("screening", {}))
    stimuli = (read_table(args.stimuli, "stimuli table of the package", ("trial_id", "stimulus", "condition",
                                                                          "predicted_quality"))
               if args.stimuli else None)
    try:
        summary = analyse(args.results, args.out_dir, stimuli, screening, bool(section.get("drop_untouched", False)),
                          int(section.get("bootstrap", 2000)), int(settings.get("seed", 0)))
    except RatingsError as exc:  # its message starts with the results file
        raise InputError(None, str(exc)) from None
    print(f"{summary['assessors']} assessors, {len(summary['excluded_assessors'])} excluded, "
          f"{summary['untouched_sliders']} untouched sliders")
    for c in summary["conditions"]:
        print(f"  {c['condition']:<12} median {c['median']:5.1f}  mean {c['mean']:5.1f} "
              f"[{c['ci_low']:5.1f}, {c['ci_high']:5.1f}]  n={c['n']}")
    return 0


def serve_main(argv: list[str] | None = None) -> int:
    """Serve a webMUSHRA folder on 127.0.0.1 and store results as webMUSHRA's write.php does."""
    from mixrep.mushra.serve import serve

    parser = argparse.ArgumentParser(prog="mixrep serve-mushra", description=serve_main.__doc__)
    parser.add_argument("directory", help="the package folder with the webMUSHRA app copied in")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-requests", type=int, default=None, help="stop after this many requests")
    args = parser.parse_args(argv)
    if not Path(args.directory).is_dir():
        raise InputError(args.directory, "not a folder (the webMUSHRA package to serve)")
    if not (Path(args.directory) / "index.html").exists():
        print(f"note: {args.directory} has no index.html: copy the webMUSHRA app into it (see its README.md)")
    try:
        serve(args.directory, args.port, args.max_requests)
    except KeyboardInterrupt:
        pass
    return 0
