"""Normalised parameter space: bounds, round trips, neutral chain."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.stems import STEMS
from mixrep.transfer.params import PARAM_NAMES, STEM_PARAMS, ParamSpace, ParamSpec


def test_spec_round_trip_linear_and_log() -> None:
    for spec in STEM_PARAMS:
        for u in np.linspace(0.0, 1.0, 11):
            value = spec.to_physical(u)
            assert spec.low - 1e-9 <= value <= spec.high + 1e-9
            assert spec.to_normalised(value) == pytest.approx(u, abs=1e-12)
        assert spec.to_physical(0.0) == pytest.approx(spec.low)
        assert spec.to_physical(1.0) == pytest.approx(spec.high)


def test_log_parameter_midpoint_is_geometric_mean() -> None:
    spec = ParamSpec("f", 100.0, 10000.0, 1000.0, log=True)
    assert spec.to_physical(0.5) == pytest.approx(1000.0)


def test_out_of_range_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="gain_db"):
        ParamSpace().spec("gain_db").to_normalised(40.0)


def test_space_round_trip_and_neutral() -> None:
    space = ParamSpace(bypass=["drums"])
    assert space.dim == 3 * len(PARAM_NAMES)
    rng = np.random.default_rng(0)
    vector = rng.uniform(size=space.dim)
    physical = space.to_physical(vector)
    np.testing.assert_allclose(space.to_normalised(physical), vector, atol=1e-12)
    # the bypassed stem stays neutral whatever the vector says
    assert physical["drums"] == {spec.name: spec.neutral for spec in STEM_PARAMS}
    neutral = space.to_physical(space.neutral_vector())
    for stem in STEMS:
        for spec in STEM_PARAMS:
            assert neutral[stem][spec.name] == pytest.approx(spec.neutral)
    described = space.describe(vector)
    assert set(described["normalised"]) == {"vocals", "bass", "other"}
    assert described["bypass"]["drums"] is True


def test_unknown_names_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown transfer parameters"):
        ParamSpace(params=["gain_db", "fuzz"])
    with pytest.raises(ValueError, match="unknown stems"):
        ParamSpace(bypass=["piano"])
