"""The registry of degradation faults: every fault the degrade stage can draw, in drawing order.

A fault is one `Fault` record (`base.py`): its Effect class, its settings dataclass (the ranges its
parameters are drawn from; their defaults live only there), the `degrade.<key>` config section holding them
and its `draw(rng, settings)` function. Everything that lists the faults is derived from `FAULTS`: the
`degrade.faults` enum and default and the fault sections of the config schema (`schema_patch`), the config
validation (`mixrep.degrade.config.DegradeSettings`), the recipe drawing (`mixrep.degrade.recipes`) and the
effect names a recipe may hold (`EFFECTS`, `make_effect`); tests/test_degrade_faults.py checks the table of
docs/degrade.md against it.

Adding a fault (docs/EXTENDING.md): a module here with its Effect, settings, draw function and `Fault`
record, plus one `FAULTS.register` line below. Register new faults at the END: the position of a fault in
`degrade.faults` is part of how recipes are drawn, so inserting one reorders the recipes of every config
that enables all faults.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

from mixrep.degrade.effects import Effect
from mixrep.degrade.faults import bandwidth, dynamics, eq, gain, reverb, stereo, tilt
from mixrep.degrade.faults.base import Fault
from mixrep.registry import Registry

FAULTS: Registry[Fault] = Registry("fault")
FAULTS.register("gain", gain.GAIN)
FAULTS.register("eq_peak", eq.EQ_PEAK)
FAULTS.register("eq_low_shelf", eq.EQ_LOW_SHELF)
FAULTS.register("eq_high_shelf", eq.EQ_HIGH_SHELF)
FAULTS.register("tilt", tilt.TILT)
FAULTS.register("compress", dynamics.COMPRESS)
FAULTS.register("expand", dynamics.EXPAND)
FAULTS.register("highpass", bandwidth.HIGHPASS)
FAULTS.register("lowpass", bandwidth.LOWPASS)
FAULTS.register("reverb", reverb.REVERB)
FAULTS.register("pan", stereo.PAN)
FAULTS.register("width", stereo.WIDTH)
# new faults: register here, after the others


def _check(registry: Registry[Fault]) -> None:
    for name in registry:
        if registry.get(name).name != name:
            raise ValueError(f"fault {name!r} is registered with the effect {registry.get(name).name!r}")


_check(FAULTS)

#: Effects a recipe may hold: every fault's, plus the headroom gain (not a fault: the degrade rule adds it).
EFFECTS: dict[str, type[Effect]] = {**{name: FAULTS.get(name).effect for name in FAULTS},
                                    gain.Headroom.name: gain.Headroom}


def make_effect(name: str, params: Mapping[str, Any]) -> Effect:
    """Rebuild an effect from a recipe entry; unknown names or parameters raise ValueError naming them."""
    if name not in EFFECTS:
        raise ValueError(f"unknown effect {name!r} (known: {sorted(EFFECTS)})")
    cls = EFFECTS[name]
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"effect {name!r}: unknown parameters {unknown} (known: {sorted(allowed)})")
    return cls(**dict(params))


def fault_sections() -> dict[str, Fault]:
    """Config key -> the (first) fault whose settings it holds; faults sharing a key share the settings class."""
    sections: dict[str, Fault] = {}
    for name in FAULTS:
        fault = FAULTS.get(name)
        first = sections.setdefault(fault.key, fault)
        if (first.settings, first.flat) != (fault.settings, fault.flat):
            raise ValueError(f"faults {first.name!r} and {name!r} share degrade.{fault.key} but not its settings")
    return sections


def flat_default(fault: Fault) -> Any:
    """The config value of a flat section: its one field's default."""
    return getattr(fault.settings(), fields(fault.settings)[0].name)


def schema_patch() -> Any:
    """What the faults add to the config schema: the `degrade.faults` enum and default, every fault section."""
    from mixrep.schema import SchemaPatch

    sections: dict[str, type] = {}
    defaults: dict[str, Any] = {"degrade.faults": list(FAULTS.names())}
    for key, fault in fault_sections().items():
        if fault.flat:  # the pair's type is in degrade.schema.yaml; its default only in the dataclass
            defaults[f"degrade.{key}"] = list(flat_default(fault))
        else:
            sections[f"degrade.{key}"] = fault.settings
    return SchemaPatch(enums={"degrade.faults": FAULTS.names()}, sections=sections, defaults=defaults)


def _number(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_number(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    if not doc or doc.startswith(cls.__name__ + "("):
        raise ValueError(f"{cls.__module__}.{cls.__name__}: a fault's Effect needs a docstring (docs table)")
    return doc.splitlines()[0].rstrip(".")


def markdown_table() -> str:
    """The faults as a Markdown table (docs/degrade.md holds its output; tests/test_degrade_faults.py checks)."""
    lines = ["| effect | family | recipe parameters | drawn from `degrade.<key>` (defaults; ± = random sign) "
             "| module: implementation |", "|---|---|---|---|---|"]
    for name in FAULTS:
        fault = FAULTS.get(name)
        defaults = fault.settings()
        params = ", ".join(f"`{item.name}`" for item in fields(fault.effect))
        ranges = [("±" if item.metadata.get("signed") else "") + _number(getattr(defaults, item.name))
                  for item in fields(fault.settings)]
        if fault.flat:
            drawn = f"`{fault.key}` {ranges[0]}"
        else:
            drawn = f"`{fault.key}`: " + ", ".join(f"`{item.name}` {text}"
                                                   for item, text in zip(fields(fault.settings), ranges))
        module = fault.effect.__module__.rsplit(".", 1)[-1]
        lines.append(f"| `{name}` | {fault.family} | {params} | {drawn} | `{module}.py`: {_summary(fault.effect)} |")
    lines.append("| `headroom` | — | `gain_db` (stem `\"all\"`) | — | not a fault: see *Clipping* |")
    return "\n".join(lines)


__all__ = ["EFFECTS", "FAULTS", "Fault", "fault_sections", "make_effect", "markdown_table", "schema_patch"]
