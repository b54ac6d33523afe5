"""Control representations that a trained cell is read against (docs/evaluation.md, "Controls").

Each is a module with the encoder's call signature `(mels (B, 4, 2, M, T), features) -> (B, D)`, so the same
embedding and view code (mixrep.pretrain.embed) produces them from the same windows as every cell:
- `FeaturesOnly`: the standardised conditioning features of the window, every family concatenated: what a
  conditioned cell could read off without listening.
- `LevelStats`: 8 non-learned numbers, the mean log-Mel of each stem's mid and side channel over the window.
- `AudioOnly`: a trained conditioned encoder with its features zeroed (the train-split mean after
  standardisation): what its audio path alone carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

CONTROL_NAMES: tuple[str, ...] = ("features-only", "levels")
AUDIO_ONLY_SUFFIX = ".audio-only"


class FeaturesOnly(nn.Module):
    """The window's standardised features of `families` (in that order), concatenated."""

    def __init__(self, families: Sequence[str]) -> None:
        super().__init__()
        self.families = tuple(families)

    def forward(self, mels: torch.Tensor, features: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        if not features:
            raise ValueError("features-only needs the window's features")
        return torch.cat([features[name].float() for name in self.families], dim=1)


class LevelStats(nn.Module):
    """Mean log-Mel per stem and channel over bands and frames: (B, 4 x 2)."""

    def forward(self, mels: torch.Tensor, features: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        return mels.float().mean(dim=(3, 4)).reshape(mels.shape[0], -1)


class AudioOnly(nn.Module):
    """`encoder` with every feature value replaced by 0 (the standardised mean)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, mels: torch.Tensor, features: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        zeroed = None if features is None else {k: torch.zeros_like(v) for k, v in features.items()}
        return self.encoder(mels, zeroed)


def build_control(name: str, families: Sequence[str]) -> nn.Module:
    """The control module called `name` (CONTROL_NAMES)."""
    if name == "features-only":
        return FeaturesOnly(families)
    if name == "levels":
        return LevelStats()
    raise ValueError(f"unknown control {name!r}: expected one of {list(CONTROL_NAMES)}")
