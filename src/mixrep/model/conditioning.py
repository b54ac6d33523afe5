"""Structured-feature conditioning Γ: one MLP per feature family, and the interface of every mechanism.

Each family f_j (dynamics, spectral, stereo, masking; standardised feature vectors) goes through its own
2-layer MLP g_j to h_j (dimension `hidden`, 256). Families that a run disables get no MLP at all, so their
inputs cannot reach the encoder (that is the per-family ablation). h_mix = Σ_j h_j and the stack of h_j are
what a conditioning mechanism (`Mechanism`, registered in `mixrep.model.conditionings`) feeds to the encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


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


@dataclass(frozen=True)
class EncoderShape:
    """What a mechanism is built from: the encoder's sizes and its families.

    families: every family the encoder knows (saved in its checkpoint; a family added to the code later does
        not change an old encoder); enabled: those it is conditioned on, in the order of the h_j stack.
    """

    width: int  # d
    layers: int  # Transformer blocks L
    heads: int
    dropout: float
    num_stems: int
    hidden: int  # width of h_j / h_mix (cond_hidden)
    families: tuple[str, ...]
    enabled: tuple[str, ...]


class Mechanism(nn.Module):
    """One conditioning mechanism: the only interface `MixEncoder` knows (no per-mechanism branch there).

    The encoder runs, for a batch of B tracks x S stems (sequences of d-wide tokens, B·S of them):
        state = mechanism.begin(x, h_mix, per_family, stem_codes)  # before the first block
        for each block i: x = x + self-attention; x = block_layer_i(x, state) if any; x = x + FF
                          x = mechanism.after_block(i, x, state)
        z = mean over x[:, mechanism.prefix_tokens:]
    A subclass is built as `Mechanism(shape, settings)`, AFTER the blocks and the family MLPs (parameter
    creation order decides the initial weights); `block_layer(shape, settings)` (a classmethod, called while
    each block is built) may give every block a residual sub-layer between self-attention and feed-forward.
    """

    prefix_tokens: int = 0  # tokens `begin` placed before the frame tokens (left out of the pooling)

    def __init__(self, shape: EncoderShape, settings: Any) -> None:
        super().__init__()
        self.shape, self.settings = shape, settings

    @classmethod
    def block_layer(cls, shape: EncoderShape, settings: Any) -> nn.Module | None:
        """A module `layer(x, state) -> x` inside every block (after self-attention), or None."""
        return None

    def begin(self, x: torch.Tensor, h_mix: torch.Tensor, per_family: torch.Tensor,
              stem_codes: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """x (B·S, N, d) frame tokens, h_mix (B, H), per_family (B, J, H), stem_codes (B·S, d) the stem embedding
        of each sequence -> the tokens the blocks run on (B·S, N', d) and the state handed to the hooks."""
        return x, None

    def after_block(self, index: int, x: torch.Tensor, state: Any) -> torch.Tensor:
        """x (B·S, N', d) after block `index` -> x."""
        return x
