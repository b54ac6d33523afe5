"""The conditioning mechanisms: how the family embeddings h_j / h_mix enter the encoder (docs/pretrain.md).

One registry entry per mechanism: its name (the `<conditioning>` of a cell name, an `ablation.conditioning`
value), the module:class of its implementation (a `mixrep.model.conditioning.Mechanism`, imported only when a
model is built: this module imports no torch, the Snakefile reads it) and its settings dataclass, whose
fields are the keys of `pretrain.conditioning.<name>` in config.yaml and whose defaults live only here.
Run names, the ablation grid (`mixrep.runs`), the schema enums and sections (`schema_patch`) and the
encoder's construction are all derived from `CONDITIONINGS`. Adding a mechanism: docs/EXTENDING.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mixrep.registry import Registry

if TYPE_CHECKING:
    from mixrep.model.conditioning import Mechanism
    from mixrep.schema import SchemaPatch

NONE = "none"  # the encoder without conditioning: not a mechanism (nothing to build), never registered


@dataclass(frozen=True)
class NoSettings:
    """A mechanism without settings of its own."""


@dataclass(frozen=True)
class FilmSettings:
    """FiLM: which blocks are followed by a (gamma, beta) modulation."""

    layers: tuple[int, ...] = field(default=(), metadata={
        "help": "blocks (0-based) followed by FiLM; empty = after every block"})

    def __post_init__(self) -> None:
        if any(k < 0 for k in self.layers):
            raise ValueError(f"pretrain.conditioning.film.layers: block indices are >= 0, got {list(self.layers)}")


@dataclass(frozen=True)
class PrependSettings:
    """Prepend: how many tokens h_mix becomes."""

    tokens: int = field(default=1, metadata={
        "minimum": 1, "help": "tokens made from h_mix, placed before each stem's frame tokens (left out of the pooling)"})

    def __post_init__(self) -> None:
        if self.tokens < 1:
            raise ValueError(f"pretrain.conditioning.prepend.tokens: at least 1, got {self.tokens}")


@dataclass(frozen=True)
class Conditioning:
    """One registered mechanism.

    implementation: "module:Class" of its `Mechanism` subclass (imported when a model is built).
    settings: its settings dataclass (config `pretrain.conditioning.<name>`; the defaults live there only).
    summary: one line for the docs table.
    """

    implementation: str
    settings: type = NoSettings
    summary: str = ""

    def mechanism(self) -> type[Mechanism]:
        module, _, name = self.implementation.partition(":")
        return getattr(importlib.import_module(module), name)


CONDITIONINGS: Registry[Conditioning] = Registry("conditioning mechanism")
CONDITIONINGS.register("film", Conditioning("mixrep.model.conditioning_film:Film", FilmSettings,
                                            "(gamma, beta) = MLP(h_mix) modulate the residual stream after blocks"))
CONDITIONINGS.register("prepend", Conditioning("mixrep.model.conditioning_prepend:Prepend", PrependSettings,
                                               "h_mix becomes tokens placed before each stem's frame tokens"))
CONDITIONINGS.register("xattn", Conditioning("mixrep.model.conditioning_xattn:CrossAttention", NoSettings,
                                             "every block cross-attends to the per-family embeddings h_j"))


def build_mechanism_settings(name: str, data: Mapping[str, Any] | Any | None = None) -> Any:
    """The settings instance of mechanism `name` from its config mapping (or an instance, passed through)."""
    from mixrep.schema import build_settings

    cls = CONDITIONINGS.get(name).settings
    if isinstance(data, cls):
        return data
    return build_settings(cls, data, f"pretrain.conditioning.{name}")


def build_all_settings(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """`pretrain.conditioning` (mechanism -> its keys) -> mechanism -> settings, every registered mechanism."""
    section = dict(section or {})
    unknown = sorted(set(section) - set(CONDITIONINGS.names()))
    if unknown:
        raise ValueError(f"pretrain.conditioning: unknown mechanisms {unknown} (known: {list(CONDITIONINGS)})")
    return {name: build_mechanism_settings(name, section.get(name)) for name in CONDITIONINGS}


def settings_dict(settings: Any) -> dict[str, Any]:
    """A settings instance as plain JSON-able data (tuples as lists): what checkpoints and metrics store."""
    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(asdict(settings))


def schema_patch() -> SchemaPatch:
    """The mechanism names allowed in `ablation`, and each mechanism's settings section under `pretrain`."""
    from mixrep.schema import SchemaPatch

    names = CONDITIONINGS.names()
    return SchemaPatch(
        enums={"ablation.conditioning": names, "ablation.recipe_conditioning": names},
        sections={f"pretrain.conditioning.{name}": CONDITIONINGS.get(name).settings for name in CONDITIONINGS})
