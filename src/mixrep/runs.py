"""Ablation cells: names and the settings they stand for (DESIGN.md: Runs; docs/evaluation.md).

A cell is `none` (the encoder without feature conditioning: ONE cell, whatever the conditioning mechanism,
because a mechanism with nothing to condition on is the same model) or `<conditioning>-<families>`, each
optionally suffixed `-recipe`: positives that share a fault recipe on two different tracks
(`pretrain.positives: same_recipe`) instead of two windows of one variant (`same_variant`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mixrep.features.families import FAMILIES as FAMILY_REGISTRY
from mixrep.model import conditionings as _MECHANISMS

CONDITIONINGS: tuple[str, ...] = _MECHANISMS.CONDITIONINGS.names()  # mixrep.model.conditionings, in its order
FAMILIES: tuple[str, ...] = FAMILY_REGISTRY.names()  # mixrep.features.families: the one list of families
FAMILY_SETS: tuple[str, ...] = ("all", *(f"no_{f}" for f in FAMILIES))
POSITIVES: tuple[str, ...] = ("same_variant", "same_recipe")
NONE = _MECHANISMS.NONE  # the unconditioned cell (no mechanism)
RECIPE_SUFFIX = "-recipe"


@dataclass(frozen=True)
class RunSpec:
    """One ablation cell: conditioning `none` has family_set `none` and no families."""

    conditioning: str
    family_set: str
    positives: str = "same_variant"

    @property
    def name(self) -> str:
        base = NONE if self.conditioning == NONE else f"{self.conditioning}-{self.family_set}"
        return base + (RECIPE_SUFFIX if self.positives == "same_recipe" else "")

    @property
    def conditioned(self) -> bool:
        return self.conditioning != NONE

    @property
    def families(self) -> tuple[str, ...]:
        """The feature families enabled in this cell, in FAMILIES order."""
        if self.family_set == "all":
            return FAMILIES
        if self.family_set == NONE:
            return ()
        dropped = self.family_set.removeprefix("no_")
        return tuple(f for f in FAMILIES if f != dropped)

    @property
    def none_twin(self) -> str:
        """The unconditioned cell trained with the same positives: what conditioning is read against."""
        return NONE + (RECIPE_SUFFIX if self.positives == "same_recipe" else "")


def parse_run(name: str) -> RunSpec:
    """`film-no_masking` -> RunSpec('film', 'no_masking'); `none-recipe` -> the same_recipe none cell."""
    base, positives = name, "same_variant"
    if name.endswith(RECIPE_SUFFIX):
        base, positives = name[: -len(RECIPE_SUFFIX)], "same_recipe"
    if base == NONE:
        return RunSpec(NONE, NONE, positives)
    conditioning, sep, family_set = base.partition("-")
    if not sep or conditioning not in CONDITIONINGS or family_set not in FAMILY_SETS:
        hint = " (the unconditioned cell is called `none`)" if family_set == NONE else ""
        raise ValueError(
            f"bad run name {name!r}{hint}: expected `none` or <conditioning>-<families>, optionally + "
            f"`{RECIPE_SUFFIX}`, with conditioning in {list(CONDITIONINGS)} and families in {list(FAMILY_SETS)}")
    return RunSpec(conditioning, family_set, positives)


def grid(conditionings: Sequence[str] = CONDITIONINGS, family_sets: Sequence[str] = FAMILY_SETS,
         positives: Sequence[str] = ("same_variant",),
         recipe_conditionings: Sequence[str] | None = None) -> list[RunSpec]:
    """Every cell of the ablation grid in a stable order: per positives, `none` first, then the conditioned.

    `recipe_conditionings` (default: all of `conditionings`) are the mechanisms crossed with `same_recipe`.
    """
    unknown = [p for p in positives if p not in POSITIVES]
    if unknown:
        raise ValueError(f"unknown positives {unknown}: expected {list(POSITIVES)}")
    cells = []
    for positive in positives:
        cells.append(RunSpec(NONE, NONE, positive))
        crossed = conditionings if positive == "same_variant" or recipe_conditionings is None \
            else [c for c in conditionings if c in recipe_conditionings]
        for c in crossed:
            for f in family_sets:
                spec = parse_run(f"{c}-{f}")
                cells.append(RunSpec(spec.conditioning, spec.family_set, positive))
    return cells
