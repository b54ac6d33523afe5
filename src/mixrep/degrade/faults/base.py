"""The record of one fault: its effect, its settings (the ranges it is drawn from) and how it is drawn."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Callable

import numpy as np

from mixrep.degrade.effects import Effect


@dataclass(frozen=True)
class Fault:
    """One registered fault (see `mixrep.degrade.faults`).

    effect: the Effect class a recipe entry of this fault rebuilds (its `name` is the fault's name).
    settings: frozen dataclass of the ranges the parameters are drawn from; its defaults are the only ones
        (the config schema takes them from it).
    key: the `degrade.<key>` config section holding those settings; faults drawn from the same ranges share
        one (both shelves `eq_shelf`, high-/low-pass `bandwidth`) and then the same settings class.
    draw: `draw(rng, settings) -> Effect`; it must consume `rng` the same way on every call (recipes are
        seeded: changing what a fault draws changes every recipe drawn after it).
    flat: the section is the settings' one field itself, a `[low, high]` pair (`degrade.gain_db`,
        `degrade.pan`; kept so that existing configs stay valid). New faults use a section.
    """

    effect: type[Effect]
    settings: type
    key: str
    draw: Callable[[np.random.Generator, Any], Effect]
    flat: bool = False

    def __post_init__(self) -> None:
        if not self.effect.name:
            raise ValueError(f"{self.effect.__name__}: an Effect of a fault needs a `name`")
        if not is_dataclass(self.settings):
            raise ValueError(f"fault {self.name}: settings must be a dataclass, got {self.settings!r}")
        if self.flat and len(fields(self.settings)) != 1:
            raise ValueError(f"fault {self.name}: a flat section holds exactly one settings field")

    @property
    def name(self) -> str:
        return self.effect.name

    @property
    def family(self) -> str:
        return self.effect.family
