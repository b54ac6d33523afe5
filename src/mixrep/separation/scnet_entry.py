"""SCNet as a separator (registry entry `scnet`): its source order, its settings and how it is used.

Torch-free, so that the registry (and with it the config schema) imports without torch; the model is
`mixrep.separation.scnet`, its training `train.py`, its weights `checkpoint.py`, its inference `apply.py` /
`stream.py`. Its settings keep their historical places: `separation.model` (the constructor trained here),
`separation.train` (the training recipe) and `separation.checkpoint_model` (the constructor of a checkpoint
that does not describe itself). Defaults live only in the dataclasses below.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixrep.separation.separator import SeparatorKind
from mixrep.stems import STEMS

log = logging.getLogger("mixrep.separation")

# SCNet's own source order; mixrep's STEMS order is mapped once, at the separation boundary.
SCNET_ORDER: tuple[str, ...] = ("drums", "bass", "other", "vocals")


def from_scnet_order(stems: np.ndarray, axis: int = 0) -> np.ndarray:
    """Reorder an array whose `axis` follows SCNET_ORDER into STEMS order."""
    index = [SCNET_ORDER.index(name) for name in STEMS]
    return np.take(stems, index, axis=axis)


def to_scnet_order(stems: np.ndarray, axis: int = 0) -> np.ndarray:
    """Reorder an array whose `axis` follows STEMS into SCNET_ORDER."""
    index = [STEMS.index(name) for name in SCNET_ORDER]
    return np.take(stems, index, axis=axis)


@dataclass(frozen=True)
class SCNetModelSettings:
    """SCNet constructor of the model trained here (config `separation.model`, names as in the official config).

    The defaults are mixrep's CPU-sized SCNet (`scnet.CPU_KWARGS`): fewer channels, half the STFT size, one conv
    layer per band and two dual-path layers of the published small model; it trains in minutes on two cores.
    """

    sources: tuple[str, ...] = field(default=SCNET_ORDER, metadata={
        "help": "output order of the sources (SCNet order; mapped to vocals, bass, drums, other at the boundary)"})
    audio_channels: int = field(default=2, metadata={"minimum": 1, "help": "waveform channels"})
    dims: tuple[int, ...] = field(default=(4, 16, 32, 64), metadata={
        "minItems": 2, "help": "channels of the spectrogram input (2 x audio_channels) and after each SD block "
                               "(published small: [4, 32, 64, 128])"})
    nfft: int = field(default=2048, metadata={"minimum": 16, "help": "STFT size (published 4096)"})
    hop_size: int = field(default=512, metadata={"minimum": 1, "help": "STFT hop (published 1024)"})
    win_size: int = field(default=2048, metadata={
        "minimum": 16, "help": "STFT window length; the window is rectangular as in the official code "
                               "(published 4096)"})
    normalized: bool = field(default=True, metadata={"help": "STFT normalised by 1/sqrt(nfft)"})
    band_SR: tuple[float, float, float] = field(default=(0.175, 0.392, 0.433), metadata={
        "help": "share of frequency bins in the low/mid/high bands"})
    band_stride: tuple[int, int, int] = field(default=(1, 4, 16), metadata={"help": "down-sampling of each band"})
    band_kernel: tuple[int, int, int] = field(default=(3, 4, 16), metadata={
        "help": "frequency kernel of each band's down-sampling conv"})
    conv_depths: tuple[int, int, int] = field(default=(1, 1, 1), metadata={
        "help": "residual depth of each band's conv module (published [3, 2, 1])"})
    compress: float = field(default=4, metadata={
        "exclusiveMinimum": 0, "help": "channel compression in the conv modules"})
    conv_kernel: int = field(default=3, metadata={"minimum": 1, "help": "odd time kernel of the conv modules"})
    num_dplayer: int = field(default=2, metadata={"minimum": 2, "help": "dual-path RNN layers, even (published 6)"})
    expand: int = field(default=1, metadata={"minimum": 1, "help": "LSTM hidden size factor"})

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> "SCNetModelSettings":
        from mixrep.schema import build_settings

        return build_settings(cls, section, "separation.model")

    def kwargs(self) -> dict[str, Any]:
        """The constructor keyword arguments, lists for sequences (as a checkpoint records them)."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class AugmentSettings:
    """Augmentation of the training examples (config `separation.train.augment`; published remix / scale / flips)."""

    remix: bool = field(default=True, metadata={"help": "every source drawn from an independent track and offset"})
    gain_min: float = field(default=0.25, metadata={"minimum": 0, "help": "lower bound of the random gain per source"})
    gain_max: float = field(default=1.25, metadata={"minimum": 0, "help": "upper bound of the random gain per source"})
    flip_channels: bool = field(default=True, metadata={"help": "random left/right swap per source"})
    flip_sign: bool = field(default=True, metadata={"help": "random polarity flip per source"})
    active_only: bool = field(default=True, metadata={
        "help": "with remix, each source drawn only from tracks where it is not silent"})


@dataclass(frozen=True)
class TrainSettings:
    """Training recipe of rule train_separator (config `separation.train`; used when no checkpoint is given).

    The defaults are the 5-minute recipe of docs/separation.md (issue 15): 500 steps of 1 s examples, lr 2e-3
    decaying 0.9 every 50 steps, a validation every 100.
    """

    steps: int = field(default=500, metadata={
        "minimum": 1, "help": "optimiser steps (the budget, not wall time: deterministic given the seed)"})
    batch_size: int = field(default=4, metadata={"minimum": 1, "help": "examples per step (published 4)"})
    segment_s: float = field(default=1.0, metadata={
        "exclusiveMinimum": 0, "help": "seconds per training example (published 11)"})
    lr: float = field(default=0.002, metadata={"exclusiveMinimum": 0, "help": "Adam learning rate (published 5e-4)"})
    decay_rate: float = field(default=0.9, metadata={
        "exclusiveMinimum": 0, "maximum": 1,
        "help": "learning rate factor every decay_every steps (published 0.98 every 10 epochs)"})
    decay_every: int = field(default=50, metadata={"minimum": 1, "help": "steps between learning rate decays"})
    loss: str = field(default="l1", metadata={
        "enum": ["l1", "spec_rmse"],
        "help": "l1 = L1 on waveforms; spec_rmse = the official solver's RMSE of STFT frames"})
    eval_every: int = field(default=100, metadata={
        "minimum": 1, "help": "steps between validations; the best one is kept"})
    val_seconds: float = field(default=8.0, metadata={
        "exclusiveMinimum": 0, "help": "seconds of each validation track used"})
    max_val_tracks: int = field(default=4, metadata={
        "minimum": 1, "help": "validation tracks used (spread over the id order)"})
    grad_clip: float = field(default=0.0, metadata={
        "minimum": 0, "help": "gradient norm clip (0 = none, as published)"})
    augment: AugmentSettings = field(default_factory=AugmentSettings, metadata={
        "help": "augmentation of the training examples (published remix / scale / flips)"})

    def __post_init__(self) -> None:
        if self.loss not in ("l1", "spec_rmse"):
            raise ValueError(f"train.loss must be 'l1' or 'spec_rmse', got {self.loss!r}")
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("steps, batch_size and eval_every must be >= 1")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> "TrainSettings":
        from mixrep.schema import build_settings

        return build_settings(cls, section, "separation.train")


def checkpoint_constructor(section: Mapping[str, Any]) -> dict | str:
    """Constructor of a checkpoint that does not describe itself: a preset name, or `model` from config."""
    choice = section.get("checkpoint_model") or "small"
    return SCNetModelSettings.from_config(section.get("model")).kwargs() if choice == "model" else choice


def load(checkpoint: str | None, section: Mapping[str, Any]) -> Any:
    """The weights as a `checkpoint.LoadedSeparator`; ValueError naming the file when they cannot be used."""
    from mixrep.separation.checkpoint import CheckpointError, load_separator

    if not checkpoint:
        raise ValueError("method 'scnet' needs one --checkpoint")
    try:
        return load_separator(checkpoint, checkpoint_constructor(section))
    except CheckpointError as exc:
        raise ValueError(str(exc)) from None


def open_track(loaded: Any, settings: Any):
    """Stream each track's mixture file through the model (`stream.separate_file`)."""
    from mixrep.separation.stream import separate_file

    if loaded is None:
        raise ValueError("method 'scnet' needs a loaded separator")

    def track(row: Any, stem_dir: Path, stem_format: str) -> int:
        return separate_file(loaded.model, row["path"], stem_dir, settings, stem_format)

    return track


def train(manifest: Any, section: Mapping[str, Any], checkpoint: Path, seed: int) -> None:
    """Train SCNet on the train-split stems (best on val); curve.csv and curve.png beside `checkpoint`."""
    from mixrep.separation.train import train_separator

    model = SCNetModelSettings.from_config(section.get("model")).kwargs()
    result = train_separator(manifest, model, TrainSettings.from_config(section.get("train")),
                             Path(checkpoint).parent, seed)
    if Path(checkpoint) != result.checkpoint:
        result.checkpoint.replace(checkpoint)
    log.info("best step %d, validation SDR %.3f dB; %d tracks rejected", result.best_step,
             result.best_val_sdr, len(result.rejected))


SEPARATOR = SeparatorKind(
    description="SCNet (Tong et al., ICASSP 2024): a given checkpoint, or one trained here on the true stems",
    load=load, open=open_track, checkpoint=True, train=train,
    sections={"model": SCNetModelSettings, "train": TrainSettings},
)
