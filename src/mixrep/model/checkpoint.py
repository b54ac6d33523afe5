"""Self-describing encoder checkpoints (the Demucs habit).

A checkpoint holds the model class, its constructor arguments (for MixEncoder: also the feature families it
knew and its mechanism's settings, so that code that gained a family or a mechanism since still rebuilds it)
and its weights, plus everything needed to feed it raw data: the Mel frontend settings, the segment length,
the feature columns of every enabled family and their standardisation (train-split mean/std), and the run name. `load_checkpoint` rebuilds the
model from the file alone, without the config that trained it.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mixrep.torchfiles import load_tagged

FORMAT = "mixrep-encoder/1"
_ALLOWED_PREFIX = "mixrep.model."


@dataclass
class EncoderCheckpoint:
    """Everything stored next to the weights.

    feature_columns / feature_mean / feature_std: enabled family -> column names and their train-split
    statistics (standardised = (raw - mean) / std). Empty for an unconditioned encoder.
    """

    model_class: str
    model_kwargs: dict[str, Any]
    run: str
    mel: dict[str, Any]
    segment_frames: int
    feature_columns: dict[str, list[str]] = field(default_factory=dict)
    feature_mean: dict[str, list[float]] = field(default_factory=dict)
    feature_std: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def class_path(model: nn.Module) -> str:
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def save_checkpoint(path: str | Path, model: nn.Module, meta: EncoderCheckpoint) -> Path:
    """Write weights + description atomically (a killed job never leaves half a checkpoint)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, **asdict(meta),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def _resolve(class_name: str) -> type[nn.Module]:
    if not class_name.startswith(_ALLOWED_PREFIX):
        raise ValueError(f"model class {class_name!r} is not a mixrep.model class")
    module_name, _, attr = class_name.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, EncoderCheckpoint]:
    """Rebuild the model described by `path`, in eval mode on `device`."""
    payload = load_tagged(path, FORMAT, "mixrep encoder checkpoint")
    state = payload.pop("state_dict")
    payload.pop("format")
    meta = EncoderCheckpoint(**payload)
    cls = _resolve(meta.model_class)
    kwargs = meta.model_kwargs
    upgrade = getattr(cls, "upgrade_checkpoint", None)  # a file written by older code of the class
    if upgrade is not None:
        kwargs, state = upgrade(kwargs, state)
    model = cls(**kwargs)
    model.load_state_dict(state)
    return model.to(device).eval(), meta
