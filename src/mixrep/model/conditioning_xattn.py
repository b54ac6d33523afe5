"""Cross-attention: every block gets a sub-layer whose keys/values are the family embeddings h_j (one token per
enabled family, projected to d, plus a learned family-identity vector).

The identity table has one row per family the encoder knows (`EncoderShape.families`, saved in the
checkpoint), so an encoder trained before a family was added keeps its table and still loads."""

from __future__ import annotations

import torch
from torch import nn

from mixrep.model.conditioning import EncoderShape, Mechanism
from mixrep.model.conditionings import NoSettings


class CrossAttentionLayer(nn.Module):
    """x + Dropout(MHA(LN(x), context, context)), the sub-layer between self-attention and feed-forward."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return x + self.drop(self.attn(h, context, context, need_weights=False)[0])


class CrossAttention(Mechanism):
    """Args: shape (EncoderShape), settings (none)."""

    def __init__(self, shape: EncoderShape, settings: NoSettings) -> None:
        super().__init__(shape, settings)
        self.context = nn.Linear(shape.hidden, shape.width)
        self.family_embedding = nn.Embedding(len(shape.families), shape.width)
        nn.init.normal_(self.family_embedding.weight, std=0.02)
        family_index = [shape.families.index(name) for name in shape.enabled]
        self.register_buffer("family_index", torch.tensor(family_index, dtype=torch.long), persistent=False)

    @classmethod
    def block_layer(cls, shape: EncoderShape, settings: NoSettings) -> nn.Module:
        return CrossAttentionLayer(shape.width, shape.heads, shape.dropout)

    def begin(self, x: torch.Tensor, h_mix: torch.Tensor, per_family: torch.Tensor,
              stem_codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context = self.context(per_family) + self.family_embedding(self.family_index)[None]  # B, J, d
        return x, context.repeat_interleave(self.shape.num_stems, dim=0)  # B·S, J, d
