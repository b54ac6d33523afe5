"""The separators (config `separation.method`): one registry entry each, the one place that lists them.

Everything that depends on the method asks the registry, never compares names: the schema's
`separation.method` enum and the separators' own settings sections (`schema_patch`), whether rule
train_separator runs (`trains_here`), which checkpoint the separate rule reads (`reads_checkpoint`), which
sources need true stems (`needs_true_stems`), and the `separate` / `train-separator` commands.

Adding a separator (docs/EXTENDING.md): a module with its `SeparatorKind` (torch-free at import; see
`separator.py` for the interface and `oracle.py` for the smallest one), one `register` line below, its tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mixrep.registry import Registry
from mixrep.separation import oracle, scnet_entry
from mixrep.separation.separator import InferenceSettings, SeparatorKind

SEPARATORS: Registry[SeparatorKind] = Registry("separator")
SEPARATORS.register("scnet", scnet_entry.SEPARATOR)
SEPARATORS.register("oracle", oracle.SEPARATOR)

# settings every separator shares (key under `separation` -> dataclass); a separator's own come from its entry
SHARED_SECTIONS: dict[str, type] = {"inference": InferenceSettings}


def sections() -> dict[str, type]:
    """Every settings section under `separation`: the shared ones and each separator's own (none claimed twice)."""
    out = dict(SHARED_SECTIONS)
    for name in SEPARATORS:
        for key, cls in SEPARATORS.get(name).sections.items():
            if key in out and out[key] is not cls:
                raise ValueError(f"separator {name!r}: separation.{key} is already another separator's section")
            out[key] = cls
    return out


def schema_patch():
    """The `separation.method` enum and the settings sections, for `mixrep.schema`."""
    from mixrep.schema import SchemaPatch

    return SchemaPatch(enums={"separation.method": SEPARATORS.names()},
                       sections={f"separation.{key}": cls for key, cls in sections().items()})


def _method(section: Mapping[str, Any]) -> str:
    return str(section.get("method"))


def reads_checkpoint(section: Mapping[str, Any]) -> bool:
    """The configured separator reads a weights file (separation.checkpoint, or the one trained here)."""
    return SEPARATORS.get(_method(section)).checkpoint


def trains_here(section: Mapping[str, Any]) -> bool:
    """Rule train_separator runs: the separator can be trained and no checkpoint is configured."""
    kind = SEPARATORS.get(_method(section))
    return kind.checkpoint and kind.train is not None and not section.get("checkpoint")


def needs_true_stems(section: Mapping[str, Any]) -> bool:
    """The run needs the manifest's true stems: to separate (the oracle) or to train the separator here."""
    return SEPARATORS.get(_method(section)).true_stems or trains_here(section)
