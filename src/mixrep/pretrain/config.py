"""The `pretrain` config section as a dataclass, and the model a run + preset stand for.

Presets are data: `presets` maps a name to encoder sizes ({layers, width, heads, ...}); `preset` picks one.
A run name (`film-no_masking`) decides the conditioning mechanism and the enabled feature families;
`conditioning` holds every mechanism's settings (`pretrain.conditioning.<name>`, defaults in their dataclasses
in mixrep.model.conditionings). The other defaults equal those of workflow/schemas/sections/pretrain.schema.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

from mixrep.model.conditionings import build_all_settings, settings_dict
from mixrep.model.encoder import EncoderSettings, MixEncoder
from mixrep.model.frontend import MelSettings
from mixrep.runs import FAMILIES, parse_run


def default_presets() -> dict[str, dict[str, Any]]:
    return {
        "demo": {"layers": 2, "width": 64, "heads": 4, "ff_mult": 2, "patch_frames": 4, "dropout": 0.0},
        "paper": {"layers": 12, "width": 768, "heads": 12, "ff_mult": 4, "patch_frames": 4, "dropout": 0.1},
    }


@dataclass
class PretrainSettings:
    """See workflow/schemas/sections/pretrain.schema.yaml for the meaning of every key."""

    preset: str = "demo"
    presets: dict[str, dict[str, Any]] = field(default_factory=default_presets)
    stereo: str = "midside"
    mel_max_s: float | None = 3.0
    segment_frames: int = 128
    batch_size: int = 24
    group_size: int = 4
    epochs: int = 8
    lr: float = 2.0e-4
    weight_decay: float = 0.01
    warmup_steps: int = 20
    temperature: float = 0.1
    grad_clip: float = 1.0
    cond_hidden: int = 256
    conditioning: dict[str, Any] = field(default_factory=lambda: build_all_settings({}))  # mechanism -> settings
    checkpoint_every: int = 50
    eval_every: int = 0
    eval_batch_size: int = 64

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> PretrainSettings:
        """From the `--settings` payload (its `pretrain` section); unknown keys are an error."""
        section = dict(settings.get("pretrain", {}) or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ValueError(f"unknown pretrain settings {unknown}; known: {sorted(known)}")
        obj = cls(**{**section, "conditioning": build_all_settings(section.get("conditioning"))})
        if obj.preset not in obj.presets:
            raise ValueError(f"preset {obj.preset!r} is not among presets {sorted(obj.presets)}")
        if obj.batch_size % obj.group_size:
            raise ValueError(f"batch_size {obj.batch_size} is not a multiple of group_size {obj.group_size}")
        return obj

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "conditioning": {k: settings_dict(v) for k, v in self.conditioning.items()}}

    def mel_config(self) -> MelSettings:
        return MelSettings(stereo=self.stereo)

    def encoder_config(self, conditioning: str) -> EncoderSettings:
        sizes = dict(self.presets[self.preset])
        return EncoderSettings.from_dict({**sizes, "n_mels": self.mel_config().n_mels, "conditioning": conditioning,
                                        "cond_hidden": self.cond_hidden})


def build_model(run: str, settings: PretrainSettings, family_dims: Mapping[str, int], seed: int) -> MixEncoder:
    """The freshly initialised encoder of `run` (weights drawn from a generator seeded by `seed`)."""
    spec = parse_run(run)
    dims = {name: family_dims[name] for name in spec.families}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # the `none` cell has no families: the encoder is unconditioned whatever mechanism it names
        mechanism = spec.conditioning if spec.conditioned else "film"
        return MixEncoder(settings.encoder_config(mechanism), dims, families=FAMILIES,
                          settings=settings.conditioning[mechanism])
