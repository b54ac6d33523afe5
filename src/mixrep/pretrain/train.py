"""The Stage 1 training loop: InfoNCE over segment pairs, AdamW, warm-up + cosine, clipping, resumable.

Resumability: every `checkpoint_every` steps (and at the end) the model, optimiser, scheduler, torch RNG
state, step counter and log are written to `<out>/checkpoints/last.pt`. Batches and segment draws are
functions of (seed, epoch, step) only, so a run killed at any point and started again continues from its
last checkpoint and ends with the same weights as an uninterrupted run. A checkpoint of other settings
(its fingerprint differs) is ignored, never resumed.

Several processes (`ranks`, mixrep.pretrain.distributed): every rank draws the whole global batch, embeds its
slice and computes the loss of the whole batch from the gathered embeddings; rank 0 alone validates, logs and
writes the checkpoint (with every rank's torch RNG state), and every rank reads it to resume.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mixrep.model.checkpoint import EncoderCheckpoint, class_path, save_checkpoint
from mixrep.model.encoder import MixEncoder
from mixrep.model.losses import info_nce
from mixrep.pretrain.config import PretrainSettings, build_model
from mixrep.pretrain.data import (FeatureStats, ItemSet, epoch_batches, gather_segments, recipe_epoch_pairs,
                                  recipe_pairs_per_epoch, sample_pair_starts, sample_pair_windows)
from mixrep.pretrain.distributed import Ranks, dropout_seed
from mixrep.pretrain.embed import autocast, to_device
from mixrep.pretrain.mels import MelSource
from mixrep.pretrain.retrieval import retrieval_top1
from mixrep.runs import parse_run

RESUME_NAME = "checkpoints/last.pt"


@dataclass
class TrainResult:
    model: MixEncoder
    initial_state: dict[str, torch.Tensor]
    log: list[dict[str, float]]
    step_losses: list[float]
    steps: int
    resumed_from: int
    timing: dict[str, float] = field(default_factory=dict)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def input_stats(bank: MelSource, items: ItemSet, stride: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Per (channel, band) mean/std of the items' log-Mels (every `stride`-th frame of each item).

    Streamed item by item (Chan et al.'s pairwise update of count, mean and squared deviations, float64), so
    memory is one item, not a quarter of the training Mels as a float32 copy was. The frames are those of the
    former in-memory version; the float32 results agree with it to float32 rounding (~1e-7 relative).
    """
    count = 0
    mean = m2 = None
    for k in items.mel_index:
        values = np.asarray(bank.item(int(k))[..., ::stride], dtype=np.float64)  # 4, 2, M, F
        n_k = values.shape[0] * values.shape[3]
        mean_k = values.mean(axis=(0, 3))
        m2_k = ((values - mean_k[None, :, :, None]) ** 2).sum(axis=(0, 3))
        if mean is None:
            count, mean, m2 = n_k, mean_k, m2_k
            continue
        total = count + n_k
        delta = mean_k - mean
        mean = mean + delta * (n_k / total)
        m2 = m2 + m2_k + delta ** 2 * (count * n_k / total)
        count = total
    if mean is None:
        raise ValueError("no items to compute input statistics from")
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(np.sqrt(m2 / count).astype(np.float32))


def fingerprint(run: str, seed: int, settings: PretrainSettings, items: ItemSet) -> str:
    payload = {"run": run, "seed": seed, "settings": settings.to_dict(), "items": len(items),
               "first": items.track_id[:3].tolist(), "dims": {k: v.shape[1] for k, v in items.features.items()}}
    if parse_run(run).positives == "same_recipe" and items.recipe_id is not None:  # the pairs depend on them
        payload["recipes"] = hashlib.sha256(np.ascontiguousarray(items.recipe_id, np.int64).tobytes()).hexdigest()
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def train_encoder(run: str, seed: int, bank: MelSource, items: ItemSet, stats: FeatureStats,
                  settings: PretrainSettings, work_dir: str | Path, device: torch.device,
                  on_step: Callable[[int, float], None] | None = None, log_print: Callable[[str], None] = print,
                  ranks: Ranks = Ranks()) -> TrainResult:
    """Train the encoder of `run` on the train split of `items`; validate on the val split each epoch.

    `on_step(step, loss)` is called after every optimiser step (the tests use it to kill a run). `ranks`:
    this process's place among data-parallel processes (the process group is already set up).
    """
    if not ranks.is_main:
        log_print = _silent
    train = items.of_split("train")
    val = items.of_split("val")
    length = settings.segment_frames
    track_codes = np.unique(train.track_id, return_inverse=True)[1]
    same_recipe = parse_run(run).positives == "same_recipe"
    if same_recipe:
        if train.recipe_id is None:
            raise ValueError(f"{run}: same_recipe positives need the items' recipe ids "
                             "(mixrep.pretrain.data.attach_recipe_ids; `mixrep pretrain --recipes`)")
        pairs = recipe_pairs_per_epoch(track_codes, train.recipe_id)
        steps_per_epoch = pairs // settings.batch_size
        if steps_per_epoch < 1:
            raise ValueError(f"{pairs} same-recipe pairs on different training tracks: fewer than one batch of "
                             f"{settings.batch_size} (is degrade.recipe_pool 0?)")
    else:
        steps_per_epoch = len(train) // settings.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"{len(train)} training items: fewer than one batch of {settings.batch_size}")
    total_steps = steps_per_epoch * settings.epochs
    mine = ranks.rows(settings.batch_size)  # this rank's items of every global batch

    model = build_model(run, settings, stats.dims, seed)
    model.set_input_stats(*input_stats(bank, train))
    initial_state = copy.deepcopy(model.state_dict())
    model.to(device)
    net = ranks.wrap(model, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, settings.warmup_steps, total_steps))
    torch.manual_seed(dropout_seed(seed, ranks.rank))  # dropout draws
    log: list[dict[str, float]] = []
    step_losses: list[float] = []
    step = 0
    resume_path = Path(work_dir) / RESUME_NAME
    key = fingerprint(run, seed, settings, items)
    if resume_path.exists():
        state = torch.load(resume_path, map_location="cpu", weights_only=False)
        if state.get("fingerprint") == key:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            rng_states = state.get("torch_rng_ranks", [state["torch_rng"]])
            if ranks.rank < len(rng_states):
                torch.set_rng_state(rng_states[ranks.rank])
            step, log, step_losses = state["step"], state["log"], state["step_losses"]
            log_print(f"resumed from {resume_path} at step {step}/{total_steps}")
        else:
            log_print(f"ignoring {resume_path}: it belongs to other settings")
    resumed_from = step

    def checkpoint() -> None:
        rng_states = ranks.gather_objects(torch.get_rng_state())  # a collective: every rank takes part
        if ranks.is_main:
            _save_state(resume_path, {"fingerprint": key, "model": model.state_dict(),
                                      "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                                      "torch_rng": rng_states[0], "torch_rng_ranks": rng_states,
                                      "step": step, "log": log, "step_losses": step_losses})

    batches, batches_epoch = None, -1
    data_time = compute_time = 0.0
    epoch_start = time.perf_counter()
    while step < total_steps:
        epoch, index = divmod(step, steps_per_epoch)
        t0 = time.perf_counter()
        if batches_epoch != epoch:
            batches = (recipe_epoch_pairs(track_codes, train.recipe_id, seed, epoch, settings.batch_size)
                       if same_recipe else epoch_batches(track_codes, seed, epoch, settings.batch_size,
                                                         settings.group_size))
            batches_epoch = epoch
        rng = np.random.default_rng([seed, epoch, index])
        if same_recipe:  # one window of each of two items: same recipe, different tracks
            starts, mel_rows, features = _cross_views(train, batches[0][index], batches[1][index], mine, length,
                                                      rng, device)
        else:
            pos = batches[index]
            if train.has_segments:  # two distinct grid windows, each with the features of its own audio
                a, b = sample_pair_windows(np.diff(train.seg_offsets)[pos], rng)
                pos, a, b = pos[mine], a[mine], b[mine]  # this rank's slice of the global batch's draws
                views = np.concatenate([train.segment_rows(pos, a), train.segment_rows(pos, b)])
                starts = train.seg_starts[views]
                features = to_device(train.seg_features, views, device)
            else:
                first, second = sample_pair_starts(train.num_frames[pos], length, rng)
                pos, first, second = pos[mine], first[mine], second[mine]
                starts = np.concatenate([first, second])
                features = to_device(train.features, np.concatenate([pos, pos]), device)
            mel_rows = np.concatenate([train.mel_index[pos]] * 2)
        mels_t = gather_segments(bank, mel_rows, starts, length).to(device)
        t1 = time.perf_counter()
        model.train()
        with autocast(device):
            z = net(mels_t, features)
        anchors, positives = ranks.gather_views(z, settings.batch_size)
        loss = info_nce(anchors.float(), positives.float(), settings.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        data_time += t1 - t0
        compute_time += time.perf_counter() - t1
        step_losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, step_losses[-1])
        if step % steps_per_epoch == 0:
            row: dict[str, float] = {"epoch": epoch + 1, "step": step,
                                     "loss": float(np.mean(step_losses[-steps_per_epoch:])),
                                     "lr": float(scheduler.get_last_lr()[0])}
            due = (settings.eval_every and (epoch + 1) % settings.eval_every == 0) or step == total_steps
            if due and ranks.is_main:
                scores = retrieval_top1(model, bank, val, length, seed, device, settings.eval_batch_size)
                row.update({"val_top1": scores["top1"], "val_top1_within_track": scores["top1_within_track"]})
                if "across_top1" in scores:
                    row["val_across_top1"] = scores["across_top1"]
            row["seconds"] = round(time.perf_counter() - epoch_start, 3)
            epoch_start = time.perf_counter()
            log.append(row)
            log_print(json.dumps(row))
        if step % settings.checkpoint_every == 0 or step == total_steps:
            checkpoint()
    model.eval()
    steps_run = step - resumed_from
    timing = {"data_s": data_time, "compute_s": compute_time, "steps_run": steps_run,
              "data_share": data_time / max(1e-12, data_time + compute_time)}
    return TrainResult(model, initial_state, log, step_losses, total_steps, resumed_from, timing)


def _cross_views(train: ItemSet, anchors: np.ndarray, positives: np.ndarray, mine: slice, length: int,
                 rng: np.random.Generator, device: torch.device
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, torch.Tensor]]:
    """Starts, Mel rows and features of this rank's views [its anchors; its positives]: one window per item.

    The windows are drawn for the whole global batch, then sliced (as the same_variant path does), so the
    draws do not depend on the number of processes. With grid windows each view is conditioned on its own
    window's features; otherwise it gets its item's row.
    """
    both = np.concatenate([anchors, positives])
    if train.has_segments:
        local = np.floor(rng.random(len(both)) * np.diff(train.seg_offsets)[both]).astype(np.int64)
    else:
        local = np.floor(rng.random(len(both)) * (train.num_frames[both] - length + 1)).astype(np.int64)
    n = len(anchors)
    keep = np.concatenate([np.arange(n)[mine], n + np.arange(n)[mine]])
    both, local = both[keep], local[keep]
    if train.has_segments:
        views = train.segment_rows(both, local)
        return train.seg_starts[views], train.mel_index[both], to_device(train.seg_features, views, device)
    return local, train.mel_index[both], to_device(train.features, both, device)


def _silent(_: str) -> None:
    return None


def checkpoint_meta(run: str, model: MixEncoder, stats: FeatureStats, settings: PretrainSettings,
                    extra: dict[str, Any]) -> EncoderCheckpoint:
    """The description saved with the weights (see mixrep.model.checkpoint)."""
    columns, mean, std = stats.to_lists()
    enabled = list(model.family_dims)
    return EncoderCheckpoint(model_class=class_path(model), model_kwargs=model.kwargs(), run=run,
                             mel=settings.mel_config().to_dict(), segment_frames=settings.segment_frames,
                             feature_columns={k: columns[k] for k in enabled},
                             feature_mean={k: mean[k] for k in enabled}, feature_std={k: std[k] for k in enabled},
                             extra=extra)


def save_encoder(path: str | Path, run: str, model: MixEncoder, stats: FeatureStats, settings: PretrainSettings,
                 extra: dict[str, Any]) -> Path:
    return save_checkpoint(path, model, checkpoint_meta(run, model, stats, settings, extra))
