"""Training SCNet on the corpus's true stems (when no checkpoint is configured).

The published recipe (starrytong/SCNet `solver.py`, `conf/config.yaml`) as far as a CPU budget allows:
Adam (lr 5e-4, betas 0.9/0.999) with the learning rate multiplied by `decay_rate` every `decay_every`
(steps here, epochs there); random segments with remix / gain / flip augmentation (`data.py`); the best
state on the validation split (mean SDR over sources, the official "nSDR") is the one kept.
Differences, all settings: the loss is L1 on waveforms by default (`loss: spec_rmse` gives the official
solver's RMSE on STFT frames); the budget is counted in steps, not epochs, so a run is deterministic
given the seed; no EMA copies and no mixed precision.
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mixrep.audio import load_audio, read_stems
from mixrep.separation.apply import ApplySettings, separate_track
from mixrep.separation.checkpoint import save_checkpoint
from mixrep.separation.data import SegmentSampler, StemTrack, index_stems, read_segment, split_rows
from mixrep.separation.evaluate import SILENT_DB, level_db, silent_stems
from mixrep.separation.metrics import sdr
from mixrep.separation.scnet import SCNet
from mixrep.separation.scnet_entry import TrainSettings
from mixrep.stems import SAMPLE_RATE, STEMS

log = logging.getLogger(__name__)


@dataclass
class ValTrack:
    track_id: str
    mixture: np.ndarray  # (2, N)
    stems: np.ndarray  # (4, 2, N) STEMS order


@dataclass
class TrainResult:
    checkpoint: Path
    best_step: int
    best_val_sdr: float
    curve: list[dict]
    rejected: list[tuple[str, str]]


def waveform_loss(kind: str, estimate: torch.Tensor, target: torch.Tensor, model: SCNet) -> torch.Tensor:
    """L1 on waveforms, or the official RMSE of STFT frames (mean over sources of per-source RMSE)."""
    if kind == "l1":
        return F.l1_loss(estimate, target)
    stft = model._stft_args(estimate.device, estimate.dtype)
    length = estimate.shape[-1]
    spec_est = torch.view_as_real(torch.stft(estimate.reshape(-1, length), **stft, return_complex=True))
    spec_ref = torch.view_as_real(torch.stft(target.reshape(-1, length), **stft, return_complex=True))
    shape = estimate.shape[:2] + (-1,)
    return (spec_est - spec_ref).pow(2).reshape(shape).mean(-1).sqrt().mean()


def track_stats(track: StemTrack) -> StemTrack:
    """The track with its scale (std of the mono downmix of the stem sum: training examples are scaled like
    the inference input) and which sources are active (energy above SILENT_DB against the stem sum)."""
    stems = [read_segment(path, 0, track.frames).astype(np.float64) for path in track.files]
    mix = sum(stems)
    std = float(np.mean(mix, axis=0).std())
    active = tuple(level_db(stem, mix) > SILENT_DB for stem in stems)
    return replace(track, scale=std if std > 0 else 1.0, active=active)


def load_val_tracks(manifest: pd.DataFrame, max_tracks: int, seconds: float) -> list[ValTrack]:
    """`max_tracks` validation tracks spread evenly over the id-sorted list (ids start with the genre in the
    synthetic corpus, so the first few would all be one genre), mixture file and true stems, cropped."""
    frames = int(seconds * SAMPLE_RATE)
    rows = split_rows(manifest, "val")
    picks = sorted(set(np.linspace(0, len(rows) - 1, num=min(max_tracks, len(rows))).round().astype(int)))
    out = []
    for row in rows.iloc[picks].itertuples(index=False):
        mixture, _ = load_audio(row.path)
        stems = read_stems(row.stems_dir)
        n = min(frames, mixture.shape[1], stems.shape[-1])
        out.append(ValTrack(row.track_id, mixture[:, :n], stems[..., :n]))
    return out


def validate(model: SCNet, tracks: list[ValTrack], segment_s: float) -> dict[str, float]:
    """Mean SDR per stem over the validation tracks where that stem is active (a silent reference gives
    any estimate a score far below 0 dB and would drown the rest), separating exactly as inference does
    (no overlap, like the official validation). `val_sdr` = mean over the active (track, stem) pairs."""
    model.eval()
    settings = ApplySettings(segment_s=segment_s, overlap=0.0, batch_size=4, device="cpu")
    per_stem: dict[str, list[float]] = {name: [] for name in STEMS}
    for track in tracks:
        scores = sdr(track.stems, separate_track(model, track.mixture, settings, torch.device("cpu")))
        silent = set(silent_stems(track.stems, track.mixture))
        for name, score in zip(STEMS, scores):
            if name not in silent:
                per_stem[name].append(float(score))
    result = {f"val_sdr_{name}": float(np.mean(v)) if v else float("nan") for name, v in per_stem.items()}
    result["val_sdr"] = float(np.mean([x for v in per_stem.values() for x in v]))
    return result


def train_separator(manifest: pd.DataFrame, model_kwargs: dict, config: TrainSettings, out_dir: str | Path,
                    seed: int) -> TrainResult:
    """Train SCNet; write checkpoint.th (best on val), curve.csv and curve.png into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = SCNet(**model_kwargs)
    tracks, rejected = index_stems(manifest, "train", tuple(model.sources))
    if not tracks:
        raise ValueError("no train-split track has usable stems: " + "; ".join(f"{r.track_id}: {r.reason}"
                                                                               for r in rejected[:5]))
    val_tracks = load_val_tracks(manifest, config.max_val_tracks, config.val_seconds)
    if not val_tracks:
        raise ValueError("the manifest has no val-split track with stems: the best checkpoint needs one")
    # every track scaled by its mixture's std, as the published data loader and the inference do
    tracks = [track_stats(track) for track in tracks]
    sampler = SegmentSampler(tracks, int(config.segment_s * SAMPLE_RATE), config.augment, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999))
    log.info("training on %d tracks (%d rejected), validating on %d; %d parameters",
             len(tracks), len(rejected), len(val_tracks), sum(p.numel() for p in model.parameters()))
    active_tracks = {name: sum(t.active[i] for t in tracks) for i, name in enumerate(model.sources)}
    log.info("active sources over the training tracks: %s", active_tracks)

    curve: list[dict] = []
    best_sdr, best_step, best_state = -np.inf, 0, None
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(1, config.steps + 1):
        lr = config.lr * config.decay_rate ** ((step - 1) // config.decay_every)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        sources = torch.from_numpy(sampler.batch(config.batch_size))
        mix = sources.sum(dim=1)
        loss = waveform_loss(config.loss, model(mix), sources, model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(float(loss.detach()))
        if step % 10 == 0:
            log.info("step %d/%d loss %.4f (%.1f s)", step, config.steps, losses[-1], time.perf_counter() - started)
        if step % config.eval_every == 0 or step == config.steps:
            scores = validate(model, val_tracks, config.segment_s)
            row = {"step": step, "train_loss": float(np.mean(losses)), "lr": lr,
                   "elapsed_s": round(time.perf_counter() - started, 2), **scores}
            curve.append(row)
            losses = []
            log.info("step %d loss %.4f val SDR %.3f dB", step, row["train_loss"], scores["val_sdr"])
            if scores["val_sdr"] > best_sdr:
                best_sdr, best_step = scores["val_sdr"], step
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    info = {"best_step": best_step, "best_val_sdr": best_sdr, "seed": seed, "train": _plain(asdict(config)),
            "train_tracks": len(tracks), "active_tracks": active_tracks, "val_tracks": [t.track_id for t in val_tracks],
            "rejected": [(r.track_id, r.reason) for r in rejected]}
    checkpoint = save_checkpoint(out_dir / "checkpoint.th", model, model_kwargs, info)
    write_curve(curve, out_dir / "curve.csv", out_dir / "curve.png")
    return TrainResult(checkpoint, best_step, best_sdr, curve, [(r.track_id, r.reason) for r in rejected])


def _plain(data: dict) -> dict:
    return {k: (_plain(v) if isinstance(v, dict) else v) for k, v in data.items()}


def write_curve(curve: list[dict], csv_path: Path, png_path: Path) -> None:
    """The learning curve as CSV and a two-panel PNG (training loss; validation SDR per stem)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(curve[0]))
        writer.writeheader()
        writer.writerows(curve)
    steps = [row["step"] for row in curve]
    fig, (ax_loss, ax_sdr) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(steps, [row["train_loss"] for row in curve], marker="o")
    ax_loss.set(xlabel="step", ylabel="training loss", title="training loss")
    for name in STEMS:
        ax_sdr.plot(steps, [row[f"val_sdr_{name}"] for row in curve], marker=".", label=name)
    ax_sdr.plot(steps, [row["val_sdr"] for row in curve], color="k", lw=2, label="mean")
    ax_sdr.set(xlabel="step", ylabel="SDR (dB)", title="validation SDR")
    ax_sdr.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
