"""mixrep.schema: a settings dataclass as a JSON schema (types, defaults, constraints) and back from a mapping."""

from __future__ import annotations

from dataclasses import dataclass, field

import jsonschema
import pytest

from mixrep.config_schema import apply_patch
from mixrep.schema import SchemaPatch, build_settings, dataclass_schema

Range = tuple[float, float]


@dataclass(frozen=True)
class Inner:
    order: int = field(default=8, metadata={"minimum": 1, "maximum": 16, "help": "filter order"})


@dataclass(frozen=True)
class Outer:
    """Settings of a made-up fault."""

    cutoff_hz: Range = (80.0, 800.0)
    names: tuple[str, ...] = ("a", "b")
    scale: float | None = None
    flag: bool = False
    inner: Inner = field(default_factory=Inner)


def test_the_schema_holds_types_defaults_and_constraints():
    schema = dataclass_schema(Outer)
    props = schema["properties"]
    assert schema["additionalProperties"] is False and schema["description"] == "Settings of a made-up fault."
    assert props["cutoff_hz"] == {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                                  "default": [80.0, 800.0]}
    assert props["names"]["default"] == ["a", "b"] and props["flag"] == {"type": "boolean", "default": False}
    assert props["inner"]["properties"]["order"] == {"type": "integer", "default": 8, "minimum": 1, "maximum": 16,
                                                     "description": "filter order"}
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"cutoff_hz": [1, 2], "scale": None, "inner": {"order": 4}})
    for bad in ({"cutoff_hz": [1]}, {"inner": {"order": 0}}, {"unknown": 1}, {"flag": "yes"}):
        assert not validator.is_valid(bad), bad


def test_build_settings_round_trips_and_refuses_unknown_keys():
    built = build_settings(Outer, {"cutoff_hz": [100, 200], "names": ["x"], "inner": {"order": 2}}, "fault")
    assert built == Outer(cutoff_hz=(100.0, 200.0), names=("x",), inner=Inner(order=2))
    assert build_settings(Outer, None, "fault") == Outer()
    with pytest.raises(ValueError, match=r"fault.inner: unknown keys \['ordr'\]"):
        build_settings(Outer, {"inner": {"ordr": 2}}, "fault")
    with pytest.raises(ValueError, match=r"fault.cutoff_hz: expected 2 values"):
        build_settings(Outer, {"cutoff_hz": [1, 2, 3]}, "fault")


def test_a_patch_adds_enums_sections_and_defaults_and_refuses_a_section_the_yaml_also_has():
    schema = {"type": "object", "properties": {"degrade": {"type": "object", "properties": {
        "faults": {"type": "array", "items": {"type": "string"}}}}}}
    apply_patch(schema, SchemaPatch(enums={"degrade.faults": ("gain", "made_up")},
                                    sections={"degrade.made_up": Outer, "pretrain.conditioning.film": Inner},
                                    defaults={"degrade.faults": ["gain", "made_up"]}))
    degrade = schema["properties"]["degrade"]["properties"]
    assert degrade["faults"]["items"]["enum"] == ["gain", "made_up"] and degrade["faults"]["default"] == ["gain", "made_up"]
    assert degrade["made_up"]["default"] == {} and "cutoff_hz" in degrade["made_up"]["properties"]
    film = schema["properties"]["pretrain"]["properties"]["conditioning"]["properties"]["film"]
    assert film["properties"]["order"]["default"] == 8
    with pytest.raises(ValueError, match="also in the YAML schema"):
        apply_patch(schema, SchemaPatch(sections={"degrade.faults": Inner}))
