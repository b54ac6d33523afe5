"""Prepended tokens: h_mix is projected to `tokens` tokens (plus the stem embedding) placed before the frame
tokens of every stem; they take part in self-attention in every block and are left out of the pooling."""

from __future__ import annotations

import torch
from torch import nn

from mixrep.model.conditioning import EncoderShape, Mechanism
from mixrep.model.conditionings import PrependSettings


class Prepend(Mechanism):
    """Args: shape (EncoderShape), settings (PrependSettings: tokens made from h_mix)."""

    def __init__(self, shape: EncoderShape, settings: PrependSettings) -> None:
        super().__init__(shape, settings)
        self.prefix_tokens = settings.tokens
        self.proj = nn.Linear(shape.hidden, settings.tokens * shape.width)

    def begin(self, x: torch.Tensor, h_mix: torch.Tensor, per_family: torch.Tensor,
              stem_codes: torch.Tensor) -> tuple[torch.Tensor, None]:
        batch, stems, count, width = h_mix.shape[0], self.shape.num_stems, self.prefix_tokens, self.shape.width
        tokens = self.proj(h_mix).reshape(batch, 1, count, width).expand(batch, stems, count, width)
        tokens = tokens.reshape(batch * stems, count, width) + stem_codes[:, None, :]  # B·S, P, d
        return torch.cat([tokens, x], dim=1), None
