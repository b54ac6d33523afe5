"""E_θ: a Transformer over time frames, shared across the 4 stems, optionally conditioned on features.

Each stem's log-Mel (2 channels x n_mels x T) is cut into patches of `patch_frames` frames; a patch becomes
one token (linear embedding), plus a sinusoidal position code and a learned stem embedding. The stems run
through the same pre-LN Transformer as separate sequences (weights shared), are mean-pooled over their
frame tokens into z^(c) (d values) and concatenated: z = [z^(voc), z^(bass), z^(dr), z^(oth)] (4·d).

Conditioning: the family MLPs Γ (`FeatureConditioner`) give h_mix and the h_j; the mechanism named by
`conditioning` (a `Mechanism` from the registry `mixrep.model.conditionings`: film, prepend, xattn, ...)
brings them into the Transformer through its hooks. ``none`` (or an encoder without families) builds neither.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from functools import partial
from typing import Any

import torch
from torch import nn

from mixrep.model.conditioning import EncoderShape, FeatureConditioner, Mechanism
from mixrep.model.conditionings import CONDITIONINGS, NONE, build_mechanism_settings, settings_dict
from mixrep.stems import STEMS

# Checkpoints written before the conditioning registry (model_kwargs without `families`): the family list of
# that code, the mechanism keys of its EncoderSettings and the old parameter names. Frozen history: a new
# mechanism or family never adds to these.
LEGACY_FAMILIES: tuple[str, ...] = ("dynamics", "spectral", "stereo", "masking")
LEGACY_CONFIG_KEYS: dict[str, tuple[str, str]] = {"film_layers": ("film", "layers"),
                                                  "prepend_tokens": ("prepend", "tokens")}
LEGACY_PARAMETERS: tuple[tuple[str, str], ...] = (  # (old prefix, new prefix) of state_dict keys
    ("film.", "mechanism.net."), ("prepend.", "mechanism.proj."), ("context.", "mechanism.context."),
    ("family_embedding.", "mechanism.family_embedding."))
LEGACY_BLOCK_PARAMETERS: tuple[tuple[str, str], ...] = ((".norm_x.", ".layer.norm."), (".xattn.", ".layer.attn."))


@dataclass
class EncoderSettings:
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
        conditioning: `none` or a mechanism of mixrep.model.conditionings.CONDITIONINGS.
        cond_hidden: width of the family MLPs g_j (256).
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

    def __post_init__(self) -> None:
        if self.conditioning != NONE and self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {[NONE, *CONDITIONINGS]}, got {self.conditioning!r}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncoderSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown encoder settings {unknown}; known: {sorted(known)}")
        return cls(**dict(data))


def sinusoidal_positions(length: int, width: int, device: torch.device) -> torch.Tensor:
    """(length, width) fixed sine/cosine codes (Vaswani et al. 2017): no maximum length to configure."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / width))
    codes = torch.zeros(length, width, device=device)
    codes[:, 0::2] = torch.sin(position * rate)
    codes[:, 1::2] = torch.cos(position * rate[: width // 2])
    return codes


class Block(nn.Module):
    """Pre-LN Transformer block; a mechanism may add a residual sub-layer `layer(x, state)` after self-attention.

    Args:
        width, heads, ff_mult, dropout: as in EncoderSettings.
        make_layer: builds the mechanism's sub-layer (or returns None), called after self-attention is built
            (the creation order decides the initial weights).
    """

    def __init__(self, width: int, heads: int, ff_mult: int, dropout: float,
                 make_layer: Callable[[], nn.Module | None] | None = None) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.layer = make_layer() if make_layer is not None else None
        self.norm2 = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, ff_mult * width), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(ff_mult * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, state: Any = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, h, h, need_weights=False)[0])
        if self.layer is not None:
            x = self.layer(x, state)
        return x + self.drop(self.ff(self.norm2(x)))


class MixEncoder(nn.Module):
    """log-Mel stems (B, 4, 2, M, T) + family features -> z (B, 4·d).

    Args:
        config: EncoderSettings or its dict.
        family_dims: enabled family -> feature count (empty: unconditioned, whatever `conditioning` says).
        families: every family the encoder knows, in the code's order (default: those of family_dims). It
            is saved in the checkpoint: what a mechanism sizes by it (xattn's family table) stays as trained.
        settings: the settings of the `conditioning` mechanism (its dataclass or a mapping; default: its
            defaults).
    """

    def __init__(self, config: EncoderSettings | Mapping[str, Any], family_dims: Mapping[str, int] | None = None,
                 families: Sequence[str] | None = None, settings: Any = None) -> None:
        super().__init__()
        self.config = config if isinstance(config, EncoderSettings) else EncoderSettings.from_dict(config)
        cfg = self.config
        self.family_dims: dict[str, int] = dict(family_dims or {})
        self.families: tuple[str, ...] = tuple(families) if families is not None else tuple(self.family_dims)
        unknown = [name for name in self.family_dims if name not in self.families]
        if unknown:
            raise ValueError(f"unknown feature families {unknown}; known: {list(self.families)}")
        self.mode = cfg.conditioning if self.family_dims else NONE
        # a `none` encoder keeps the settings it was given (of the mechanism its config names) for its kwargs
        self.settings = build_mechanism_settings(cfg.conditioning, settings) if cfg.conditioning != NONE else None
        mechanism_class = CONDITIONINGS.get(self.mode).mechanism() if self.mode != NONE else None
        shape = EncoderShape(width=cfg.width, layers=cfg.layers, heads=cfg.heads, dropout=cfg.dropout,
                             num_stems=cfg.num_stems, hidden=cfg.cond_hidden, families=self.families,
                             enabled=tuple(self.family_dims))
        d = cfg.width
        # input standardisation per channel and Mel band (set from training data; identity by default)
        self.register_buffer("input_mean", torch.zeros(cfg.channels, cfg.n_mels))
        self.register_buffer("input_std", torch.ones(cfg.channels, cfg.n_mels))
        self.patch = nn.Linear(cfg.channels * cfg.n_mels * cfg.patch_frames, d)
        self.stem_embedding = nn.Embedding(cfg.num_stems, d)
        nn.init.normal_(self.stem_embedding.weight, std=0.02)
        # the parameter creation order (blocks with their sub-layers, norm, Γ, mechanism) decides the init
        self.blocks = nn.ModuleList(
            Block(d, cfg.heads, cfg.ff_mult, cfg.dropout,
                  partial(mechanism_class.block_layer, shape, self.settings) if mechanism_class else None)
            for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.conditioner = FeatureConditioner(self.family_dims, cfg.cond_hidden) if mechanism_class else None
        self.mechanism: Mechanism | None = mechanism_class(shape, self.settings) if mechanism_class else None

    @property
    def embedding_dim(self) -> int:
        return self.config.num_stems * self.config.width

    def kwargs(self) -> dict[str, Any]:
        """Constructor arguments (saved in checkpoints so that they rebuild the model)."""
        return {"config": asdict(self.config), "family_dims": dict(self.family_dims),
                "families": list(self.families),
                "settings": settings_dict(self.settings) if self.settings is not None else None}

    @staticmethod
    def upgrade_checkpoint(kwargs: Mapping[str, Any], state: Mapping[str, torch.Tensor]
                           ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Constructor arguments and weights of a checkpoint from before the conditioning registry, as today's.

        Such a checkpoint has no `families` (its code knew LEGACY_FAMILIES), keeps the mechanism settings in
        its config (film_layers, prepend_tokens) and names the mechanism's parameters without `mechanism.`.
        """
        kwargs = dict(kwargs)
        if "families" in kwargs:
            return kwargs, dict(state)
        config = dict(kwargs["config"])
        legacy = {key: config.pop(key) for key in list(config) if key in LEGACY_CONFIG_KEYS}
        settings = {LEGACY_CONFIG_KEYS[key][1]: value for key, value in legacy.items()
                    if LEGACY_CONFIG_KEYS[key][0] == config.get("conditioning")}
        kwargs.update(config=config, families=list(LEGACY_FAMILIES), settings=settings)
        renamed = {}
        for key, value in state.items():
            for old, new in LEGACY_PARAMETERS:
                if key.startswith(old):
                    key = new + key[len(old):]
                    break
            if key.startswith("blocks."):
                for old, new in LEGACY_BLOCK_PARAMETERS:
                    key = key.replace(old, new, 1)
            renamed[key] = value
        return kwargs, renamed

    @torch.no_grad()
    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per (channel, band) mean/std of the training log-Mels, applied before the patch embedding."""
        self.input_mean.copy_(mean.reshape(self.input_mean.shape))
        self.input_std.copy_(std.reshape(self.input_std.shape).clamp_min(1e-3))

    def _stem_codes(self, batch: int, stems: int, device: torch.device) -> torch.Tensor:
        """The learned stem embedding of each of the B·S sequences (B·S, d)."""
        return self.stem_embedding(torch.arange(stems, device=device).repeat(batch))

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
        return x + self._stem_codes(batch, stems, x.device)[:, None, :]  # B·S, N, d

    def forward(self, mels: torch.Tensor, features: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        cfg = self.config
        batch, stems = mels.shape[:2]
        x = self._tokens(mels)
        state: Any = None
        skip = 0
        if self.mechanism is not None and self.conditioner is not None:
            if features is None:
                raise ValueError(f"this encoder is conditioned on {list(self.family_dims)}: pass their features")
            h_mix, per_family = self.conditioner(features)  # B, H ; B, J, H
            # a lookup of its own (not the tokens' one): its gradient adds up as it did before the registry
            stem_codes = self._stem_codes(batch, stems, x.device)
            x, state = self.mechanism.begin(x, h_mix, per_family, stem_codes)
            skip = self.mechanism.prefix_tokens
        for index, block in enumerate(self.blocks):
            x = block(x, state)
            if self.mechanism is not None:
                x = self.mechanism.after_block(index, x, state)
        pooled = self.norm(x[:, skip:]).mean(dim=1)  # B·S, d
        return pooled.reshape(batch, stems * cfg.width)
