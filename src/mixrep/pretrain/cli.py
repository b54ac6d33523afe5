"""`mixrep mels`, `mixrep pretrain`, `mixrep embed`: the Stage 1 commands of the workflow."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from mixrep.audio import AudioError
from mixrep.devices import add_runtime_arguments, configure_runtime, resolve_device
from mixrep.errors import InputError
from mixrep.provenance import code_version
from mixrep.runs import FAMILIES, POSITIVES, RunSpec, grid, parse_run
from mixrep.settings import add_settings_argument, load_settings, write_json
from mixrep.tables import read_table

if TYPE_CHECKING:
    from mixrep.pretrain.distributed import Ranks


def run_option(name: str, option: str = "--run") -> RunSpec:
    """The cell `name` names, or an InputError (one line) that lists every valid cell name."""
    try:
        return parse_run(name)
    except ValueError:
        valid = ", ".join(spec.name for spec in grid(positives=POSITIVES))
        raise InputError(option, f"unknown ablation cell {name!r}; valid cells: {valid}") from None


# ---------------------------------------------------------------- mels
def mels_main(argv: list[str] | None = None) -> int:
    """Render every track × variant of one shard and store its log-Mels (results/mels/{shard}.npz)."""
    from mixrep.degrade import iter_variants
    from mixrep.pretrain.config import PretrainSettings
    from mixrep.pretrain.mels import build_mel_shard

    parser = argparse.ArgumentParser(prog="mixrep mels", description=mels_main.__doc__)
    parser.add_argument("--stems-index", required=True, help="results/stems/{shard}/index.parquet")
    parser.add_argument("--recipes", required=True, help="results/variants/{shard}/recipes.parquet")
    parser.add_argument("--out", required=True, help="results/mels/{shard}.npz")
    add_runtime_arguments(parser, device=None)
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    configure_runtime(args)
    settings = PretrainSettings.from_config(load_settings(args.settings))
    for path in (args.stems_index, args.recipes):
        if not Path(path).exists():
            raise SystemExit(f"mels: {path}: no such file")
    start = time.perf_counter()
    try:
        shard = build_mel_shard(iter_variants(args.stems_index, args.recipes), settings.mel_config(),
                                settings.mel_max_s)
    except (AudioError, ValueError, KeyError, OSError) as error:
        raise SystemExit(f"mels: {error}") from error
    shard.save(args.out)
    print(f"{args.out}: {len(shard)} items, {int(shard.offsets[-1])} frames, "
          f"{shard.mels.nbytes / 2**20:.1f} MiB, {time.perf_counter() - start:.1f} s")
    return 0


# ---------------------------------------------------------------- shared loading
def _read_segments(paths: list[str] | None) -> pd.DataFrame | None:
    """Every shard's per-segment features (results/features/segments/{shard}.parquet), or None if none given."""
    from mixrep.analyse.outputs import read_segment_table

    if not paths:
        return None
    try:
        return pd.concat([read_segment_table(path) for path in paths], ignore_index=True)
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read the per-segment features ({error})") from error


def _load_items(mels: list[str], features: str, manifest: str, families: tuple[str, ...], segment_frames: int,
                segments: list[str] | None = None):
    from mixrep.pretrain.data import prepare_items
    from mixrep.pretrain.mels import MelStore

    try:
        bank = MelStore(mels)  # index only: segments are read from disk as they are needed
        items, stats = prepare_items(bank, read_table(features, "features"), read_table(manifest, "manifest"),
                                     families, segment_frames, _read_segments(segments))
    except (ValueError, KeyError) as error:
        raise SystemExit(f"pretrain inputs: {error}") from error
    for row in items.skipped:
        print(f"skipped {row['track_id']} variant {row['variant_id']}: {row['reason']}", file=sys.stderr)
    return bank, items, stats


def _split_counts(items) -> dict[str, int]:
    names, counts = np.unique(items.split, return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts)}


# ---------------------------------------------------------------- pretrain
def pretrain_main(argv: list[str] | None = None) -> int:
    """Contrastive pretraining of one ablation cell: encoder.pt, log.csv, loss.png, metrics.json."""
    from mixrep.pretrain.config import PretrainSettings
    from mixrep.pretrain.distributed import Ranks, check_world, launch, rank_device, torchrun_ranks

    parser = argparse.ArgumentParser(prog="mixrep pretrain", description=pretrain_main.__doc__)
    parser.add_argument("--mels", nargs="+", required=True, help="results/mels/{shard}.npz (all shards; streamed, not loaded)")
    parser.add_argument("--features", required=True, help="results/features.parquet")
    parser.add_argument("--manifest", required=True, help="results/manifest/manifest.parquet")
    parser.add_argument("--segments", nargs="*", default=None,
                        help="results/features/segments/{shard}.parquet (all shards): each view is conditioned on "
                             "its own window's features; without it, on the item's row")
    parser.add_argument("--run", required=True, help="ablation cell, e.g. film-all")
    parser.add_argument("--recipes", nargs="*", default=None,
                        help="results/variants/{shard}/recipes.parquet (all shards): the recipe ids that the "
                             "-recipe cells pair on (and retrieval across content reports)")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--checkpoint", required=True, help="output encoder.pt")
    parser.add_argument("--log-csv", required=True)
    parser.add_argument("--plot", required=True, help="output loss.png")
    parser.add_argument("--metrics", required=True, help="output metrics.json")
    add_runtime_arguments(parser)  # --threads: of the whole job, split among its processes
    parser.add_argument("--nproc", type=int, default=1,
                        help="data-parallel processes on this node (one GPU each on CUDA); ignored under torchrun")
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    run_option(args.run)  # before any input is read: a typo fails at once
    settings = PretrainSettings.from_config(load_settings(args.settings))
    launched = torchrun_ranks()
    world = launched[2] if launched else args.nproc
    try:
        check_world(settings.batch_size, world)
        if world > 1 and not launched:  # before any process is spawned: one GPU per process on CUDA
            rank_device(resolve_device(args.device), world - 1)
    except ValueError as error:
        raise SystemExit(f"pretrain: {error}") from error
    if launched:
        rank, local_rank, _ = launched
        _pretrain(Ranks(rank, world), local_rank, "env://", args)
    elif world > 1:
        launch(_pretrain, world, args)
    else:
        _pretrain(Ranks(), 0, "", args)
    return 0


def _pretrain(ranks: Ranks, local_rank: int, init_method: str, args: argparse.Namespace) -> None:
    """One process of `mixrep pretrain`: all ranks train, rank 0 evaluates and writes every output."""
    from mixrep.pretrain import distributed
    from mixrep.pretrain.config import PretrainSettings
    from mixrep.pretrain.train import train_encoder

    spec = run_option(args.run)
    torch.set_num_threads(max(1, args.threads // ranks.world))
    settings = PretrainSettings.from_config(load_settings(args.settings))
    device = resolve_device(args.device)
    if ranks.active:
        device = distributed.rank_device(device, local_rank)
        distributed.init(ranks, device, init_method)
    try:
        start = time.perf_counter()
        bank, items, stats = _load_items(args.mels, args.features, args.manifest, FAMILIES, settings.segment_frames,
                                         args.segments)
        if args.recipes:
            from mixrep.pretrain.data import attach_recipe_ids, read_recipe_ids

            items = attach_recipe_ids(items, read_recipe_ids(args.recipes))
        elif spec.positives == "same_recipe":
            raise InputError("--recipes", f"{spec.name} pairs variants by recipe: pass every shard's recipes.parquet")
        load_s = time.perf_counter() - start
        if ranks.is_main:
            print(f"{len(items)} items {_split_counts(items)}; {len(items.skipped)} skipped; device {device}; "
                  f"{ranks.world} process(es)")
        work_dir = Path(args.checkpoint).parent
        result = train_encoder(spec.name, args.seed, bank, items, stats, settings, work_dir, device, ranks=ranks)
        if ranks.is_main:
            _pretrain_outputs(args, spec, settings, bank, items, stats, result, device, ranks.world,
                              start, load_s, time.perf_counter() - start - load_s)
    finally:
        distributed.close()


def _pretrain_outputs(args, spec, settings, bank, items, stats, result, device, world: int, start: float,
                      load_s: float, train_s: float) -> None:
    """Rank 0: held-out retrieval of the trained and random-init encoders, then encoder.pt, log, plot, metrics."""
    from mixrep.pretrain.config import build_model
    from mixrep.pretrain.plots import plot_loss
    from mixrep.pretrain.retrieval import retrieval_top1
    from mixrep.pretrain.train import RESUME_NAME, save_encoder

    work_dir = Path(args.checkpoint).parent
    random_model = build_model(spec.name, settings, stats.dims, args.seed)
    random_model.load_state_dict(result.initial_state)
    random_model.to(device).eval()
    retrieval: dict[str, Any] = {"trained": {}, "random_init": {}}
    for split in ("val", "test"):
        held_out = items.of_split(split)
        for name, model in (("trained", result.model), ("random_init", random_model)):
            retrieval[name][split] = retrieval_top1(model, bank, held_out, settings.segment_frames, args.seed,
                                                    device, settings.eval_batch_size)
    settings_used = {"run": spec.name, "conditioning": spec.conditioning, "families": list(spec.families),
                     "seed": args.seed, "pretrain": settings.to_dict(),
                     "encoder": result.model.kwargs(), "device": str(device), "threads": torch.get_num_threads(),
                     "processes": world}
    extra = {"settings": settings_used, "code_version": code_version("model", "pretrain"), "steps": result.steps}
    save_encoder(args.checkpoint, spec.name, result.model, stats, settings, extra)
    _write_log(args.log_csv, result.log)
    plot_loss(args.plot, result.step_losses, result.log, title=f"{spec.name} seed {args.seed}")
    metrics = {
        "run": spec.name, "seed": args.seed, "settings": settings_used,
        "retrieval": retrieval,
        "final_loss": result.log[-1]["loss"] if result.log else None,
        "first_epoch_loss": result.log[0]["loss"] if result.log else None,
        "steps": result.steps, "resumed_from_step": result.resumed_from,
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "items": _split_counts(items), "skipped": items.skipped,
        "timing": {"load_s": round(load_s, 2), "train_s": round(train_s, 2),
                   "total_s": round(time.perf_counter() - start, 2),
                   **{k: round(float(v), 4) for k, v in result.timing.items()}},
        "code_version": extra["code_version"],
    }
    write_json(args.metrics, metrics)
    resume = work_dir / RESUME_NAME
    resume.unlink(missing_ok=True)
    if resume.parent.exists() and not any(resume.parent.iterdir()):
        resume.parent.rmdir()
    summary = {k: {s: v["top1"] for s, v in d.items()} for k, d in retrieval.items()}
    print(f"retrieval top-1 {json.dumps(summary)}; {metrics['timing']['total_s']} s")


def _write_log(path: str | Path, rows: list[dict[str, float]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["epoch", "step", "loss", "lr", "val_top1", "val_top1_within_track", "seconds"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})


# ---------------------------------------------------------------- embed
def embed_main(argv: list[str] | None = None) -> int:
    """Embeddings (+ two held-out views per item) of a trained cell, a random-init encoder or a control."""
    from mixrep.model.checkpoint import load_checkpoint
    from mixrep.pretrain.config import PretrainSettings, build_model
    from mixrep.pretrain.controls import CONTROL_NAMES, AudioOnly, build_control
    from mixrep.pretrain.embed import embed_items, embed_views, views_path, write_embeddings, write_views
    from mixrep.pretrain.train import input_stats

    parser = argparse.ArgumentParser(prog="mixrep embed", description=embed_main.__doc__)
    parser.add_argument("--mels", nargs="+", required=True)
    parser.add_argument("--features", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--segments", nargs="*", default=None,
                        help="results/features/segments/{shard}.parquet (all shards): each view is conditioned on "
                             "its own window's features; without it, on the item's row")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="encoder.pt of a trained cell")
    source.add_argument("--random-init", metavar="RUN", help="architecture of this cell, untrained (e.g. film-all)")
    source.add_argument("--control", choices=CONTROL_NAMES, help="a non-learned control (docs/evaluation.md)")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", required=True,
                        help="results/embed/{source}/seed{seed}.parquet (its .views.parquet beside it)")
    parser.add_argument("--audio-only-out", default=None,
                        help="with --checkpoint of a conditioned cell: also the cell with its features zeroed")
    add_runtime_arguments(parser)
    add_settings_argument(parser)
    args = parser.parse_args(argv)
    device = configure_runtime(args)
    settings = PretrainSettings.from_config(load_settings(args.settings))
    start = time.perf_counter()
    if args.checkpoint:
        try:
            model, meta = load_checkpoint(args.checkpoint, device)
        except (FileNotFoundError, ValueError) as error:
            raise SystemExit(f"embed: {error}") from error
        run, length = meta.run, meta.segment_frames
    elif args.random_init:
        run, length = run_option(args.random_init, "--random-init").name, settings.segment_frames
    else:
        run, length = args.control, settings.segment_frames
    bank, items, stats = _load_items(args.mels, args.features, args.manifest, FAMILIES, length, args.segments)
    if args.random_init:
        model = build_model(run, settings, stats.dims, args.seed)
        model.set_input_stats(*input_stats(bank, items.of_split("train")))
        model.to(device).eval()
        name = "random-init"
    elif args.control:
        model, name = build_control(args.control, stats.families).to(device).eval(), args.control
    else:
        columns = stats.columns
        changed = [k for k, cols in meta.feature_columns.items() if cols != columns.get(k)]
        if changed:
            raise SystemExit(f"embed: feature columns of families {changed} differ between {args.checkpoint} "
                             f"and {args.features}")
        name = run
    # what the evaluation and the bundle read: every held-out item, and the reference remix of train tracks
    # (the bundle's reference embeddings); the degraded train variants are the encoder's training data only
    read = items.subset((items.split != "train") | (items.variant_id == 0))
    outputs = [(args.out, model, name, read)]
    if args.audio_only_out:
        if not args.checkpoint or not parse_run(run).conditioned:
            raise InputError("--audio-only-out", f"needs --checkpoint of a conditioned cell (got {run})")
        # a control of the evaluation only: the held-out items (every metric reads those), not the train split
        held_out = read.subset(read.split != "train")
        outputs.append((args.audio_only_out, AudioOnly(model).eval(), f"{run}.audio-only", held_out))
    for path, module, label, subset in outputs:
        embeddings = embed_items(module, bank, subset, length, device, settings.eval_batch_size)
        meta_out = {"run": label, "architecture": run, "seed": args.seed,
                    "source": args.checkpoint or args.control or "random-init",
                    "code_version": code_version("model", "pretrain")}
        write_embeddings(path, subset, embeddings, meta_out)
        positions, first, second = embed_views(module, bank, subset, length, device, settings.eval_batch_size)
        write_views(views_path(path), subset, positions, first, second, meta_out)
        print(f"{path}: {len(subset)} items x {embeddings.shape[1]} dims, {len(positions)} held-out view pairs, "
              f"{time.perf_counter() - start:.1f} s")
    return 0
