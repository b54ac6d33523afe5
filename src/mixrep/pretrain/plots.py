"""loss.png: training loss per step and held-out retrieval per epoch."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_loss(path: str | Path, step_losses: list[float], log: list[dict[str, float]], title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, left = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, len(step_losses) + 1)
    left.plot(steps, step_losses, color="0.7", lw=0.8, label="InfoNCE (step)")
    if log:
        left.plot([r["step"] for r in log], [r["loss"] for r in log], "o-", color="C0", label="InfoNCE (epoch mean)")
    left.set_xlabel("step")
    left.set_ylabel("loss")
    right = left.twinx()
    rows = [r for r in log if "val_top1" in r]
    if rows:
        right.plot([r["step"] for r in rows], [r["val_top1"] for r in rows], "s--", color="C1", label="val top-1")
        right.plot([r["step"] for r in rows], [r["val_top1_within_track"] for r in rows], "^--", color="C2",
                   label="val top-1 within track")
    right.set_ylim(0, 1)
    right.set_ylabel("retrieval top-1")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    left.legend(handles, labels, loc="upper right", fontsize=8)
    left.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
