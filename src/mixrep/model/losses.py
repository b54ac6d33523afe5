"""InfoNCE (NT-Xent) with cosine similarity: the Stage 1 objective."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(anchors: torch.Tensor, positives: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE over 2B views (SimCLR's NT-Xent).

    Row i of `anchors` and row i of `positives` are two segments of the same track × variant. For each of
    the 2B views the positive is its partner; every other view of the batch is a negative, which includes
    the other variants of the same track when batches are built from groups of variants (hard negatives).

        loss = mean_v [ -log exp(s(v, v+)/τ) / Σ_{u ≠ v} exp(s(v, u)/τ) ],   s = cosine similarity
    """
    if anchors.shape != positives.shape or anchors.dim() != 2:
        raise ValueError(f"expected two (B, D) tensors of the same shape, got {tuple(anchors.shape)} "
                         f"and {tuple(positives.shape)}")
    batch = anchors.shape[0]
    if batch < 2:
        raise ValueError("InfoNCE needs at least 2 items per batch (one positive, one negative)")
    views = F.normalize(torch.cat([anchors, positives]).float(), dim=1)
    logits = views @ views.T / temperature
    logits = logits.masked_fill(torch.eye(2 * batch, dtype=torch.bool, device=logits.device), float("-inf"))
    target = torch.cat([torch.arange(batch, 2 * batch), torch.arange(batch)]).to(logits.device)
    return F.cross_entropy(logits, target)
