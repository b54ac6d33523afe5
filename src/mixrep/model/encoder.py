"""E_θ: a Transformer over time frames, shared across the 4 stems, optionally conditioned on features.

Each stem's log-Mel (2 channels x n_mels x T) is cut into patches of `patch_frames` frames; a patch becomes
one token (linear embedding), plus a sinusoidal position code and a learned stem embedding. The stems run
through the same pre-LN Transformer as separate sequences (weights shared), are mean-pooled over their
frame tokens into z^(c) (d values) and concatenated: z = [z^(voc), z^(bass), z^(dr), z^(oth)] (4·d).

Conditioning (mode):
- ``film``: (γ, β) = MLP(h_mix), one pair per FiLM layer and per stem; after each block listed in
  `film_layers` the residual stream becomes a' = γ ⊙ a + β. The MLP's last layer starts at zero and γ is
  parameterised as 1 + Δγ, so a fresh model is exactly the unconditioned one (γ=1, β=0).
- ``prepend``: h_mix is projected to `prepend_tokens` tokens placed before the frame tokens of every stem;
  they take part in attention but not in the pooling.
- ``xattn``: every block gets a cross-attention sub-layer whose keys/values are the family embeddings h_j
  (one token per enabled family, plus a learned family-identity vector).
- ``none`` (or a run without families): no conditioner at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn

from mixrep.model.conditioning import CONDITIONING_MODES, FeatureConditioner
from mixrep.runs import FAMILIES
from mixrep.stems import STEMS


@dataclass
class EncoderConfig:
    """Args:
        n_mels: Mel bands per channel.
        channels: spectrogram channels per stem (mid/side = 2).
        num_stems: stems per track (4).
        patch_frames: STFT frames per token.
        width: d, the token width and the size of each z^(c).
        layers: L, Transformer blocks.
        heads: attention heads.
        ff_mult: feed-forward width as a multiple of d.
        dropout: dropout inside the blocks.
        conditioning: one of CONDITIONING_MODES.
        cond_hidden: width of the family MLPs g_j (256).
        film_layers: blocks followed by FiLM (0-based; empty = all blocks).
        prepend_tokens: tokens made from h_mix for ``prepend``.
    """

    n_mels: int = 128
    channels: int = 2
    num_stems: int = len(STEMS)
    patch_frames: int = 4
    width: int = 64
    layers: int = 2
    heads: int = 4
    ff_mult: int = 2
    dropout: float = 0.0
    conditioning: str = "film"
    cond_hidden: int = 256
    film_layers: list[int] = field(default_factory=list)
    prepend_tokens: int = 1

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONING_MODES:
            raise ValueError(f"conditioning must be one of {CONDITIONING_MODES}, got {self.conditioning!r}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        bad = [k for k in self.film_layers if not 0 <= k < self.layers]
        if bad:
            raise ValueError(f"film_layers {bad} outside 0..{self.layers - 1}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncoderConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown encoder settings {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    def film_layer_set(self) -> tuple[int, ...]:
        return tuple(self.film_layers) if self.film_layers else tuple(range(self.layers))


def sinusoidal_positions(length: int, width: int, device: torch.device) -> torch.Tensor:
    """(length, width) fixed sine/cosine codes (Vaswani et al. 2017): no maximum length to configure."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / width))
    codes = torch.zeros(length, width, device=device)
    codes[:, 0::2] = torch.sin(position * rate)
    codes[:, 1::2] = torch.cos(position * rate[: width // 2])
    return codes


class Block(nn.Module):
    """Pre-LN Transformer block with an optional cross-attention sub-layer."""

    def __init__(self, width: int, heads: int, ff_mult: int, dropout: float, cross: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.cross = cross
        if cross:
            self.norm_x = nn.LayerNorm(width)
            self.xattn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, ff_mult * width), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(ff_mult * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, h, h, need_weights=False)[0])
        if self.cross:
            if context is None:
                raise ValueError("a cross-attention block needs the family embeddings")
            h = self.norm_x(x)
            x = x + self.drop(self.xattn(h, context, context, need_weights=False)[0])
        return x + self.drop(self.ff(self.norm2(x)))


class MixEncoder(nn.Module):
    """log-Mel stems (B, 4, 2, M, T) + family features -> z (B, 4·d).

    Args:
        config: EncoderConfig or its dict.
        family_dims: enabled family -> feature count (empty: unconditioned, whatever `conditioning` says).
    """

    def __init__(self, config: EncoderConfig | Mapping[str, Any], family_dims: Mapping[str, int] | None = None):
        super().__init__()
        self.config = config if isinstance(config, EncoderConfig) else EncoderConfig.from_dict(config)
        cfg = self.config
        self.family_dims: dict[str, int] = dict(family_dims or {})
        unknown = [name for name in self.family_dims if name not in FAMILIES]
        if unknown:
            raise ValueError(f"unknown feature families {unknown}; known: {list(FAMILIES)}")
        self.mode = cfg.conditioning if self.family_dims else "none"
        d = cfg.width
        # input standardisation per channel and Mel band (set from training data; identity by default)
        self.register_buffer("input_mean", torch.zeros(cfg.channels, cfg.n_mels))
        self.register_buffer("input_std", torch.ones(cfg.channels, cfg.n_mels))
        self.patch = nn.Linear(cfg.channels * cfg.n_mels * cfg.patch_frames, d)
        self.stem_embedding = nn.Embedding(cfg.num_stems, d)
        nn.init.normal_(self.stem_embedding.weight, std=0.02)
        self.blocks = nn.ModuleList(
            Block(d, cfg.heads, cfg.ff_mult, cfg.dropout, cross=self.mode == "xattn") for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.conditioner = FeatureConditioner(self.family_dims, cfg.cond_hidden) if self.mode != "none" else None
        if self.mode == "film":
            self.film_at = cfg.film_layer_set()
            out = len(self.film_at) * cfg.num_stems * 2 * d
            self.film = nn.Sequential(nn.Linear(cfg.cond_hidden, cfg.cond_hidden), nn.GELU(),
                                      nn.Linear(cfg.cond_hidden, out))
            nn.init.zeros_(self.film[-1].weight)  # γ = 1, β = 0 at start
            nn.init.zeros_(self.film[-1].bias)
        elif self.mode == "prepend":
            self.prepend = nn.Linear(cfg.cond_hidden, cfg.prepend_tokens * d)
        elif self.mode == "xattn":
            self.context = nn.Linear(cfg.cond_hidden, d)
            self.family_embedding = nn.Embedding(len(FAMILIES), d)
            nn.init.normal_(self.family_embedding.weight, std=0.02)
            family_index = [FAMILIES.index(name) for name in self.family_dims]
            self.register_buffer("family_index", torch.tensor(family_index, dtype=torch.long), persistent=False)

    @property
    def embedding_dim(self) -> int:
        return self.config.num_stems * self.config.width

    def kwargs(self) -> dict[str, Any]:
        """Constructor arguments (saved in checkpoints so that they rebuild the model)."""
        return {"config": asdict(self.config), "family_dims": dict(self.family_dims)}

    @torch.no_grad()
    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per (channel, band) mean/std of the training log-Mels, applied before the patch embedding."""
        self.input_mean.copy_(mean.reshape(self.input_mean.shape))
        self.input_std.copy_(std.reshape(self.input_std.shape).clamp_min(1e-3))

    def _tokens(self, mels: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        batch, stems, channels, bands, frames = mels.shape  # B, S, C, M, T
        if (stems, channels, bands) != (cfg.num_stems, cfg.channels, cfg.n_mels):
            raise ValueError(f"expected mels (B, {cfg.num_stems}, {cfg.channels}, {cfg.n_mels}, T), "
                             f"got {tuple(mels.shape)}")
        num_tokens = frames // cfg.patch_frames
        if num_tokens < 1:
            raise ValueError(f"{frames} frames is shorter than one patch of {cfg.patch_frames}")
        x = mels[..., : num_tokens * cfg.patch_frames].float()
        x = (x - self.input_mean[..., None]) / self.input_std[..., None]
        x = x.reshape(batch * stems, channels, bands, num_tokens, cfg.patch_frames)
        x = x.permute(0, 3, 1, 2, 4).reshape(batch * stems, num_tokens, -1)  # B·S, N, C·M·P
        x = self.patch(x) + sinusoidal_positions(num_tokens, cfg.width, x.device)
        stem_ids = torch.arange(stems, device=x.device).repeat(batch)
        return x + self.stem_embedding(stem_ids)[:, None, :]  # B·S, N, d

    def forward(self, mels: torch.Tensor, features: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        cfg = self.config
        batch, stems = mels.shape[:2]
        x = self._tokens(mels)
        context = None
        film: torch.Tensor | None = None
        skip = 0
        if self.conditioner is not None:
            if features is None:
                raise ValueError(f"this encoder is conditioned on {list(self.family_dims)}: pass their features")
            h_mix, per_family = self.conditioner(features)  # B, H ; B, J, H
            if self.mode == "film":
                film = self.film(h_mix).reshape(batch, len(self.film_at), stems, 2, cfg.width)
                film = film.permute(1, 0, 2, 3, 4).reshape(len(self.film_at), batch * stems, 2, 1, cfg.width)
            elif self.mode == "prepend":
                tokens = self.prepend(h_mix).reshape(batch, 1, cfg.prepend_tokens, cfg.width)
                tokens = tokens.expand(batch, stems, cfg.prepend_tokens, cfg.width)
                tokens = tokens.reshape(batch * stems, cfg.prepend_tokens, cfg.width)
                stem_ids = torch.arange(stems, device=x.device).repeat(batch)
                x = torch.cat([tokens + self.stem_embedding(stem_ids)[:, None, :], x], dim=1)
                skip = cfg.prepend_tokens
            else:  # xattn
                context = self.context(per_family) + self.family_embedding(self.family_index)[None]
                context = context.repeat_interleave(stems, dim=0)  # B·S, J, d
        film_slot = 0
        for index, block in enumerate(self.blocks):
            x = block(x, context)
            if film is not None and index in self.film_at:
                gamma_delta, beta = film[film_slot, :, 0], film[film_slot, :, 1]
                x = (1.0 + gamma_delta) * x + beta
                film_slot += 1
        pooled = self.norm(x[:, skip:]).mean(dim=1)  # B·S, d
        return pooled.reshape(batch, stems * cfg.width)
