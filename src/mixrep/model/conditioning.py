"""Structured-feature conditioning Γ: one MLP per feature family, summed into h_mix.

Each family f_j (dynamics, spectral, stereo, masking; standardised feature vectors) goes through its own
2-layer MLP g_j to h_j (dimension `hidden`, 256). Families that a run disables get no MLP at all, so their
inputs cannot reach the encoder (that is the per-family ablation). h_mix = Σ_j h_j feeds FiLM and the
prepended tokens; cross-attention attends to the individual h_j (one key/value per family).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

CONDITIONING_MODES: tuple[str, ...] = ("none", "film", "prepend", "xattn")


class FamilyMLP(nn.Module):
    """g_j: Linear(n_j, hidden) -> GELU -> Linear(hidden, hidden)."""

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FeatureConditioner(nn.Module):
    """Family feature vectors -> (h_mix, per-family embeddings).

    Args:
        family_dims: enabled family -> number of feature columns, in the order used everywhere (FAMILIES).
        hidden: width of g_j and of h_j (256).
    """

    def __init__(self, family_dims: Mapping[str, int], hidden: int = 256) -> None:
        super().__init__()
        if not family_dims:
            raise ValueError("FeatureConditioner needs at least one family (use no conditioner for 'none')")
        empty = [name for name, dim in family_dims.items() if dim < 1]
        if empty:
            raise ValueError(f"feature families without columns: {empty}")
        self.families: tuple[str, ...] = tuple(family_dims)
        self.hidden = hidden
        self.mlps = nn.ModuleDict({name: FamilyMLP(dim, hidden) for name, dim in family_dims.items()})

    def forward(self, features: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """features: family -> (B, n_j). Keys of disabled families are ignored.

        Returns h_mix (B, hidden) and the stack of h_j (B, J, hidden) in `self.families` order.
        """
        missing = [name for name in self.families if name not in features]
        if missing:
            raise KeyError(f"conditioning features missing for families {missing}")
        per_family = torch.stack([self.mlps[name](features[name].float()) for name in self.families], dim=1)
        return per_family.sum(dim=1), per_family
