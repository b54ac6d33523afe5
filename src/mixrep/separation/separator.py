"""The separator interface: what a registry entry of `mixrep.separation.separators.SEPARATORS` says and does.

Torch-free (the Snakefile imports it to validate the config): an entry's `load`, `open` and `train` import
their heavy modules when called. A separator turns one manifest row into the four stem files of a folder:

    loaded = kind.load(checkpoint, section)        # once per job: weights, a model, or None
    track = kind.open(loaded, settings)            # settings: ApplySettings (inference + device + seed)
    samples = track(row, stem_dir, stem_format)    # one track -> stem_dir/{vocals,bass,drums,other}.*

`track` writes the stems in mixrep's STEMS order (a model's own source order is its own business, mapped
inside `open`), leaves no partial files when it fails, and returns the samples per stem; the stem writers of
`mixrep.separation.stream` (`separate_file`, `copy_stems`, `write_blocks`) do all of that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# (manifest row, stem folder, separation.stem_format) -> samples per stem
TrackFn = Callable[[Any, Path, str], int]


@dataclass(frozen=True)
class SeparatorKind:
    """One separator: how it is loaded, how it separates a track, and what the workflow must give it."""

    description: str  # one line for docs and `--help`
    load: Callable[[str | None, Mapping[str, Any]], Any]  # (checkpoint or None, the separation section) -> state
    open: Callable[[Any, Any], TrackFn]  # (what `load` returned, ApplySettings) -> the per-track function
    # reads a weights file: separation.checkpoint, or (with `train`) the one rule train_separator writes
    checkpoint: bool = False
    # (manifest, separation section, checkpoint path to write, seed): trains the weights when none is configured;
    # writes checkpoint, curve.csv and curve.png into the checkpoint's folder
    train: Callable[[Any, Mapping[str, Any], Path, int], None] | None = None
    true_stems: bool = False  # separating reads the manifest's true stems (stems_dir), as the oracle does
    # its own settings: key under `separation` -> settings dataclass (inserted into the schema by the registry;
    # a new separator keeps its settings under `separation.<its name>`)
    sections: Mapping[str, type] = field(default_factory=dict)


@dataclass(frozen=True)
class InferenceSettings:
    """How a model separator runs over a track: chunked overlap-add (config `separation.inference`)."""

    segment_s: float = field(default=11.0, metadata={
        "exclusiveMinimum": 0, "help": "seconds per chunk (published training segment: 11 s)"})
    overlap: float = field(default=0.25, metadata={
        "minimum": 0, "exclusiveMaximum": 1, "help": "overlap of consecutive chunks (published inference: 0.5)"})
    batch_size: int = field(default=2, metadata={
        "minimum": 1, "help": "chunks per forward pass (memory grows with it)"})
    shifts: int = field(default=0, metadata={
        "minimum": 0, "help": "random time shifts averaged (published: 1); 0 = deterministic"})
    transition_power: float = field(default=1.0, metadata={
        "minimum": 1, "help": "exponent of the triangular cross-fade"})

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        if self.transition_power < 1:
            raise ValueError(f"transition_power must be >= 1, got {self.transition_power}")
        if self.segment_s <= 0 or self.batch_size < 1 or self.shifts < 0:
            raise ValueError("segment_s > 0, batch_size >= 1 and shifts >= 0 are required")
