"""`mixrep regress`, `mixrep tsne`, `mixrep ablation-summary`: Stage 2 evaluation commands."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from mixrep.devices import add_runtime_arguments, configure_runtime
from mixrep.errors import EXIT_BAD_INPUT, EXIT_NO_RESULT, InputError
from mixrep.runs import parse_run
from mixrep.settings import add_settings_argument, load_settings, write_json

_SEED_PATTERN = re.compile(r"seed(\d+)\.parquet$")


def seed_of(path: str) -> int:
    """`.../seed3.parquet` -> 3 (the embed stage's file naming)."""
    match = _SEED_PATTERN.search(Path(path).name)
    if not match:
        raise ValueError(f"embedding file {path} is not named seed<N>.parquet")
    return int(match.group(1))


def read_seeded(paths: list[str]) -> dict[int, pd.DataFrame]:
    from mixrep.evaluation.data import read_embeddings

    return {seed_of(p): read_embeddings(p) for p in paths}


def regress_main(argv: list[str] | None = None) -> int:
    from mixrep.evaluation.data import read_features, read_table
    from mixrep.evaluation.regress import RegressSettings, plot_scatter, run_regression

    parser = argparse.ArgumentParser(prog="mixrep regress", description="Stage 2 mix-quality regression of one cell")
    parser.add_argument("--run", required=True, help="ablation cell, e.g. film-all")
    parser.add_argument("--ratings", required=True, help="results/ratings/ratings.parquet")
    parser.add_argument("--embeddings", nargs="+", required=True, help="results/embed/{run}/seed{seed}.parquet")
    parser.add_argument("--random-embeddings", nargs="+", required=True,
                        help="results/embed/random-init/seed{seed}.parquet (baseline b)")
    parser.add_argument("--none-embeddings", nargs="*", default=[],
                        help="results/embed/<conditioning>-none/seed{seed}.parquet (baseline c)")
    parser.add_argument("--features", required=True, help="results/features.parquet (baseline a)")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--scatter", required=True)
    parser.add_argument("--predictions", required=True)
    parser.add_argument("--regressor", required=True)
    add_runtime_arguments(parser, device=None)  # the regressors train on the CPU
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    section = settings.get("regress", {})
    options = RegressSettings.from_config(section)
    try:
        spec = parse_run(args.run)
        none_run = spec.none_twin
        ratings = read_table(args.ratings, "ratings")
        embeddings = read_seeded(args.embeddings)
        none = None if args.run == none_run else read_seeded(args.none_embeddings)
        if none is not None and not none:
            raise ValueError(f"--none-embeddings ({none_run}) are needed for {args.run}")
        configure_runtime(args)
        metrics, predictions, regressor = run_regression(
            ratings, embeddings, read_seeded(args.random_embeddings), none, read_features(args.features),
            run=args.run, none_run=none_run, settings=options, seed=int(settings.get("seed", 0)))
    except ValueError as error:
        print(f"mixrep regress: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    metrics["settings"] = section
    write_json(args.metrics, metrics)
    predictions.to_parquet(args.predictions, index=False)
    regressor.save(args.regressor)
    plot_scatter(predictions, metrics, args.scatter)
    for name, entry in metrics["models"].items():
        print(f"{args.run} {name:16s} R2={_f(entry['r2']['value'])} [{_f(entry['r2']['low'])}, "
              f"{_f(entry['r2']['high'])}] tau={_f(entry['kendall_tau']['value'])} "
              f"rmse={_f(entry['rmse']['value'])} seeds={entry['n_seeds']}")
    return 0


def tsne_main(argv: list[str] | None = None) -> int:
    from mixrep.evaluation.data import read_features, read_table
    from mixrep.evaluation.tsne import TsneSettings, plot_tsne, run_tsne
    from mixrep.evaluation.unmeasured import genre_counts, genre_shortfall, note_metrics, plot_note

    parser = argparse.ArgumentParser(prog="mixrep tsne", description="t-SNE and cluster metrics of one cell")
    parser.add_argument("--run", required=True)
    parser.add_argument("--embeddings", nargs="+", required=True, help="results/embed/{run}/seed{seed}.parquet")
    parser.add_argument("--recipes", nargs="+", required=True, help="every shard's recipes.parquet")
    parser.add_argument("--features", required=True, help="results/features.parquet (baseline)")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--plot", required=True)
    parser.add_argument("--threads", type=int, default=1, help="TSNE threads (the rule's threads)")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    section = settings.get("tsne", {})
    options = replace(TsneSettings.from_config(section), threads=max(1, args.threads))
    try:
        parse_run(args.run)
        embeddings = read_seeded(args.embeddings)
        counts = genre_counts(embeddings, options.splits)
        note = genre_shortfall(counts)
        if note is not None:  # no genres to measure (a folder source without a genre CSV): a note, not a failure
            write_json(args.metrics, {**note_metrics(args.run, sorted(embeddings), options.splits, counts, note),
                                      "settings": section})
            plot_note(note, args.plot)
            print(f"mixrep tsne: {args.run}: {note}", file=sys.stderr)
            return 0
        recipes = pd.concat([read_table(p, "recipes", ("track_id", "variant_id", "fault_types"))
                             for p in args.recipes], ignore_index=True)
        metrics, figure = run_tsne(embeddings, recipes, read_features(args.features),
                                   run=args.run, settings=options,
                                   seed=int(settings.get("seed", 0)))
    except ValueError as error:
        print(f"mixrep tsne: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    metrics["settings"].update(section)
    write_json(args.metrics, metrics)
    plot_tsne(figure, metrics, args.plot)
    for space in ("embedding", "features_baseline"):
        m = metrics[space]
        print(f"{args.run} {space:17s} knn={_f(m['knn_accuracy']['value'])} "
              f"silhouette={_f(m['silhouette']['value'])} trust={_f(m['trustworthiness']['value'])}")
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    """Every metric of one source (cell or control), per seed, as a units table (docs/evaluation.md)."""
    from mixrep.evaluation.data import read_embeddings, read_table
    from mixrep.evaluation.evaluate import (QUALITY_CONTROLS, EvaluateSettings, SourceInputs, check_seeds,
                                            evaluate_source, read_views)
    from mixrep.evaluation.regress import RegressSettings

    parser = argparse.ArgumentParser(prog="mixrep evaluate", description=evaluate_main.__doc__)
    parser.add_argument("--source", required=True, help="a cell (film-all), <cell>.audio-only or a control")
    parser.add_argument("--embeddings", nargs="*", default=[], help="results/embed/{source}/seed{seed}.parquet")
    parser.add_argument("--views", nargs="*", default=[], help="the .views.parquet beside each embeddings file")
    parser.add_argument("--seeds", nargs="+", type=int, required=True, help="seeds of the grid")
    parser.add_argument("--ratings", default=None, help="results/ratings/ratings.parquet")
    parser.add_argument("--recipes", nargs="+", required=True, help="results/variants/{shard}/recipes.parquet")
    parser.add_argument("--manifest", required=True, help="results/manifest/manifest.parquet")
    parser.add_argument("--metadata", nargs="?", default=None,
                        help="results/corpus/metadata.parquet (the crossed set's labels; synthetic corpus only)")
    parser.add_argument("--units", required=True, help="output units.parquet")
    parser.add_argument("--metrics", required=True, help="output metrics.json")
    parser.add_argument("--crossed-metrics", default=None, help="output results/crossed/{source}/metrics.json")
    parser.add_argument("--crossed-plot", default=None, help="output results/crossed/{source}/tsne.png")
    add_runtime_arguments(parser, device=None)  # the quality probes train on the CPU
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    options = EvaluateSettings.from_config(settings.get("evaluate", {}))
    regress = RegressSettings.from_config(settings.get("regress", {}))
    if args.source not in QUALITY_CONTROLS and (not args.embeddings or len(args.views) != len(args.embeddings)):
        raise InputError("--embeddings", f"{args.source}: one embeddings file and one views file per seed needed")
    embeddings = {seed_of(p): read_embeddings(p) for p in args.embeddings}
    views = {seed_of(p.replace(".views.parquet", ".parquet")): read_views(p) for p in args.views}
    seeds = check_seeds(args.source, args.seeds, sorted(embeddings))
    if len(embeddings) == 1 and args.source not in QUALITY_CONTROLS:  # a seed-free control serves every seed
        only = next(iter(embeddings))
        embeddings = {s: embeddings[only] for s in seeds}
        views = {s: views[only] for s in seeds}
    recipes = pd.concat([read_table(p, "recipes", ("track_id", "variant_id", "fault_types", "severity"))
                         for p in args.recipes], ignore_index=True)
    ratings = read_table(args.ratings, "ratings") if args.ratings else None
    metadata = read_table(args.metadata, "corpus metadata") if args.metadata else None
    configure_runtime(args)
    units, metrics = evaluate_source(SourceInputs(args.source, seeds, embeddings, views), ratings, recipes,
                                     metadata, regress, options)
    Path(args.units).parent.mkdir(parents=True, exist_ok=True)
    units.to_parquet(args.units, index=False)
    write_json(args.metrics, metrics)
    for metric, values in metrics["values"].items():
        shown = ", ".join(f"seed {s}: {_f(v)}" for s, v in values.items())
        print(f"{args.source} {metric}: {shown}")
    if args.crossed_metrics:
        first = embeddings[seeds[0]]
        write_crossed(args.source, first, seeds[0], metadata, args.crossed_metrics, args.crossed_plot)
    return 0


def write_crossed(source: str, embeddings: pd.DataFrame, seed: int, metadata: pd.DataFrame | None,
                  metrics_path: str, plot_path: str | None) -> None:
    """The crossed content x style report of one seed's embeddings: metrics.json and the two t-SNE panels."""
    from mixrep.evaluation.crossed import crossed_report, plot_crossed
    from mixrep.evaluation.unmeasured import plot_note

    crossed = embeddings[embeddings["split"] == "crossed"]
    if metadata is None or crossed.empty:
        note = "no crossed content x style set in this dataset (synthetic corpus with crossed_arrangements > 0)"
        write_json(metrics_path, {"source": source, "measured": False, "note": note})
        if plot_path:
            plot_note(note, plot_path)
        print(f"mixrep evaluate: {source}: {note}", file=sys.stderr)
        return
    report = crossed_report(embeddings, metadata)
    write_json(metrics_path, {"source": source, "measured": True, "seed": seed, **report})
    if plot_path:
        plot_crossed(embeddings, metadata, plot_path, f"{source} (seed {seed}): crossed content x mixing style")
    print(f"{source} crossed: " + ", ".join(f"{k}={_f(v) if isinstance(v, float) else v}"
                                            for k, v in report.items() if not isinstance(v, (dict, list))))


def crossed_summary_main(argv: list[str] | None = None) -> int:
    """One row per source of the crossed set's metrics (results/crossed/summary.csv, summary.md)."""
    import json

    parser = argparse.ArgumentParser(prog="mixrep crossed-summary", description=crossed_summary_main.__doc__)
    parser.add_argument("--metrics", nargs="+", required=True, help="results/crossed/{source}/metrics.json")
    parser.add_argument("--csv", required=True)
    parser.add_argument("--markdown", required=True)
    args = parser.parse_args(argv)
    rows = []
    for path in args.metrics:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(path, f"cannot read ({error})") from None
        rows.append({k: v for k, v in data.items() if not isinstance(v, (dict, list))})
    table = pd.DataFrame(rows)
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    Path(args.markdown).write_text("# Crossed content x mixing style (first seed per source)\n\n"
                                   + table.to_markdown(index=False, floatfmt=".3f") + "\n")
    print(Path(args.markdown).read_text())
    return 0


CONTROL_DESCRIPTIONS = {
    "features-only": "the standardised conditioning features of the same windows (no audio)",
    "levels": "8 non-learned numbers: mean log-Mel per stem and mid/side channel",
    "random-init": "the film-all architecture, untrained",
    "audio-only": "the cell with its features zeroed (its audio path alone)",
    "is-reference": "one bit: is this the untouched reference remix (linear fit)",
    "severity": "noise ceiling: the panel's noiseless expected score",
}


def ablation_main(argv: list[str] | None = None) -> int:
    """The grid against `none` and the controls: paired differences, intervals, Holm (docs/evaluation.md)."""
    from mixrep.evaluation.data import read_table
    from mixrep.evaluation.evaluate import EvaluateSettings
    from mixrep.evaluation.summary import build_summary, plot_summary

    parser = argparse.ArgumentParser(prog="mixrep ablation-summary", description=ablation_main.__doc__)
    parser.add_argument("--runs", nargs="+", required=True, help="the cells, in table order")
    parser.add_argument("--units", nargs="+", required=True, help="results/evaluate/{source}/units.parquet")
    parser.add_argument("--ratings", default=None, help="results/ratings/ratings.parquet (simulated or real)")
    parser.add_argument("--csv", required=True)
    parser.add_argument("--comparisons", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--plot", required=True)
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    options = EvaluateSettings.from_config(load_settings(args.settings).get("evaluate", {}))
    units = pd.concat([read_table(p, "units") for p in args.units], ignore_index=True)
    simulated = False
    if args.ratings:
        ratings = read_table(args.ratings, "ratings")
        simulated = bool(ratings.get("simulated", pd.Series([False])).all())
    controls = {name: CONTROL_DESCRIPTIONS.get(name.rsplit(".", 1)[-1] if name.endswith(".audio-only") else name,
                                               "control")
                for name in sorted(set(units["source"].astype(str)) - set(args.runs))}
    table, comparisons, markdown = build_summary(units, list(args.runs), controls, options, simulated=simulated)
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    comparisons.to_csv(args.comparisons, index=False)
    Path(args.markdown).write_text(markdown)
    plot_summary(table, args.plot)
    print(markdown)
    return 0


def readme_main(argv: list[str] | None = None) -> int:
    """Rewrite (or --check) README.md's generated blocks from the result files of a run."""
    from mixrep.evaluation.readme_tables import check_readme, render_readme_tables, update_readme

    parser = argparse.ArgumentParser(prog="mixrep readme-tables", description=readme_main.__doc__)
    parser.add_argument("--results", default="results", help="the run's results folder")
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if a block differs from the results")
    args = parser.parse_args(argv)
    blocks = render_readme_tables(args.results)
    if args.check:
        stale = check_readme(args.readme, blocks)
        for name in stale:
            print(f"{args.readme}: block {name} differs from {args.results}", file=sys.stderr)
        return EXIT_NO_RESULT if stale else 0
    update_readme(args.readme, blocks)
    print(f"{args.readme}: {len(blocks)} generated block(s) from {args.results}: {', '.join(blocks)}")
    return 0


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
