"""`mixrep regress`, `mixrep tsne`, `mixrep ablation-summary`: Stage 2 evaluation commands."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

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


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Limit torch's intra-op threads for this command only (a setting, not an import side effect)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the rule's threads)")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    settings = load_settings(args.settings)
    section = settings.get("regress", {})
    options = RegressSettings.from_settings(section)
    try:
        spec = parse_run(args.run)
        none_run = f"{spec.conditioning}-none"
        ratings = read_table(args.ratings, "ratings")
        embeddings = read_seeded(args.embeddings)
        none = None if args.run == none_run else read_seeded(args.none_embeddings)
        if none is not None and not none:
            raise ValueError(f"--none-embeddings ({none_run}) are needed for {args.run}")
        with torch_threads(args.threads):
            metrics, predictions, regressor = run_regression(
                ratings, embeddings, read_seeded(args.random_embeddings), none, read_features(args.features),
                run=args.run, none_run=none_run, settings=options, seed=int(settings.get("seed", 0)))
    except ValueError as error:
        print(f"mixrep regress: {error}", file=sys.stderr)
        return 1
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
    options = replace(TsneSettings.from_settings(section), threads=max(1, args.threads))
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
        return 1
    metrics["settings"].update(section)
    write_json(args.metrics, metrics)
    plot_tsne(figure, metrics, args.plot)
    for space in ("embedding", "features_baseline"):
        m = metrics[space]
        print(f"{args.run} {space:17s} knn={_f(m['knn_accuracy']['value'])} "
              f"silhouette={_f(m['silhouette']['value'])} trust={_f(m['trustworthiness']['value'])}")
    return 0


def ablation_main(argv: list[str] | None = None) -> int:
    from mixrep.evaluation.ablation import cell_row, plot_summary, summarise, to_markdown

    parser = argparse.ArgumentParser(prog="mixrep ablation-summary", description="summary of the ablation grid")
    parser.add_argument("--runs", nargs="+", required=True, help="the cells, in table order")
    parser.add_argument("--seeds", nargs="+", type=int, required=True)
    parser.add_argument("--regress-metrics", nargs="+", required=True, help="regress metrics.json, one per run")
    parser.add_argument("--tsne-metrics", nargs="+", required=True, help="tsne metrics.json, one per run")
    parser.add_argument("--pretrain-metrics", nargs="+", required=True,
                        help="pretrain metrics.json, one per run x seed (run-major)")
    parser.add_argument("--csv", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--plot", required=True)
    parser.add_argument("--best-by", default="r2", choices=["r2", "kendall_tau", "retrieval_accuracy",
                                                             "knn_genre_accuracy"])
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    n_runs, n_seeds = len(args.runs), len(args.seeds)
    if (len(args.regress_metrics), len(args.tsne_metrics), len(args.pretrain_metrics)) != \
            (n_runs, n_runs, n_runs * n_seeds):
        print(f"mixrep ablation-summary: expected {n_runs} regress, {n_runs} tsne and {n_runs * n_seeds} pretrain "
              "metrics files (one per run, one per run x seed)", file=sys.stderr)
        return 2
    try:
        rows = [cell_row(run, args.regress_metrics[i], args.tsne_metrics[i],
                         args.pretrain_metrics[i * n_seeds:(i + 1) * n_seeds])
                for i, run in enumerate(args.runs)]
    except ValueError as error:
        print(f"mixrep ablation-summary: {error}", file=sys.stderr)
        return 1
    table = summarise(rows, best_by=args.best_by)
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False)
    Path(args.markdown).write_text(to_markdown(table, len(args.seeds), args.best_by))
    plot_summary(table, len(args.seeds), args.plot)
    print(Path(args.markdown).read_text())
    return 0


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
