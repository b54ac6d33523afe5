"""Ablation cells: names `<conditioning>-<families>` and the settings they stand for (DESIGN.md: Runs)."""

from __future__ import annotations

from dataclasses import dataclass

CONDITIONINGS: tuple[str, ...] = ("film", "prepend", "xattn")
FAMILIES: tuple[str, ...] = ("dynamics", "spectral", "stereo", "masking")
FAMILY_SETS: tuple[str, ...] = ("all", "none", *(f"no_{f}" for f in FAMILIES))


@dataclass(frozen=True)
class RunSpec:
    """One ablation cell."""

    conditioning: str
    family_set: str

    @property
    def name(self) -> str:
        return f"{self.conditioning}-{self.family_set}"

    @property
    def families(self) -> tuple[str, ...]:
        """The feature families enabled in this cell, in FAMILIES order."""
        if self.family_set == "all":
            return FAMILIES
        if self.family_set == "none":
            return ()
        dropped = self.family_set.removeprefix("no_")
        return tuple(f for f in FAMILIES if f != dropped)


def parse_run(name: str) -> RunSpec:
    """`film-no_masking` -> RunSpec('film', 'no_masking'); a clear error for anything else."""
    conditioning, sep, family_set = name.partition("-")
    if not sep or conditioning not in CONDITIONINGS or family_set not in FAMILY_SETS:
        raise ValueError(
            f"bad run name {name!r}: expected <conditioning>-<families> with conditioning in "
            f"{list(CONDITIONINGS)} and families in {list(FAMILY_SETS)}")
    return RunSpec(conditioning, family_set)


def grid(conditionings: list[str] | tuple[str, ...] = CONDITIONINGS,
         family_sets: list[str] | tuple[str, ...] = FAMILY_SETS) -> list[RunSpec]:
    """Every cell of the ablation grid, in a stable order."""
    return [parse_run(f"{c}-{f}") for c in conditionings for f in family_sets]
