"""transfer.preset: the published ST-ITO search settings are reproduced, and its early stop works."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from mixrep.transfer.ito import ItoSettings, cmaes
from mixrep.transfer.presets import resolve_search
from mixrep.transfer.run import TransferSettings

ROOT = Path(__file__).resolve().parents[1]


def test_st_ito_preset_is_the_published_search() -> None:
    settings = resolve_search({"preset": "st-ito"}, seed=5)
    assert settings == ItoSettings(popsize=128, sigma0=0.33, iterations=32, patience=11, min_delta=0.01, seed=5,
                                   start="center", evaluate_start=False, cma_stop=False)
    assert settings.popsize * settings.iterations == 4096


def test_default_preset_is_the_cpu_budget_and_cmaes_keys_override() -> None:
    assert resolve_search({}, seed=0) == ItoSettings(popsize=12, sigma0=0.2, iterations=20, patience=8,
                                                     min_delta=1e-4, seed=0, start="neutral", evaluate_start=True,
                                                     cma_stop=True)
    over = resolve_search({"preset": "st-ito", "cmaes": {"iterations": 4}}, seed=0)
    assert (over.popsize, over.iterations, over.start) == (128, 4, "center")
    with pytest.raises(ValueError, match="preset"):
        resolve_search({"preset": "paper"}, seed=0)
    with pytest.raises(ValueError, match="unknown"):
        resolve_search({"cmaes": {"pop": 3}}, seed=0)


def test_config_yaml_resolves_to_the_cpu_preset() -> None:
    section = yaml.safe_load((ROOT / "config.yaml").read_text())["transfer"]
    assert TransferSettings.from_config(section, seed=0).ito == resolve_search({"preset": "cpu"}, seed=0)
    schema = yaml.safe_load((ROOT / "workflow/schemas/sections/transfer.schema.yaml").read_text())
    assert schema["properties"]["preset"]["enum"] == ["cpu", "st-ito"]
    jsonschema.validate(section, schema)
    jsonschema.validate({**section, "preset": "st-ito", "cmaes": {"iterations": 4, "start": "center"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**section, "preset": "paper"}, schema)
    assert all("default" not in spec for spec in schema["properties"]["cmaes"]["properties"].values())


class Planted:
    """A batched objective whose generation best follows a planted schedule: `drops[g]` below the previous
    generation's best (the spread inside a generation is tiny and keeps CMA-ES happy). Records each batch."""

    def __init__(self, drops: list[float], dim: int) -> None:
        self.drops, self.dim, self.calls, self.level = drops, dim, [], 1.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        g = len(self.calls)
        self.calls.append(np.array(x))
        self.level -= self.drops[g] if g < len(self.drops) else 0.0
        return self.level + 1e-6 * np.sum((x - 0.3) ** 2, axis=1)


def test_st_ito_early_stop_after_more_than_ten_small_improvements() -> None:
    settings = resolve_search({"preset": "st-ito"}, seed=0)
    # 4 generations improving by 0.05, then improvements of 0.005 (< 0.01): the 11th such one stops the search
    objective = Planted([0.05] * 4 + [0.005] * 40, dim=6)
    result = cmaes(objective, np.zeros(6), settings)
    assert len(objective.calls) == 4 + 11
    assert result.curve[-1].evaluations == 15 * 128
    assert result.stop_reason.startswith("no improvement")
    assert result.initial_objective is None
    # no separate start evaluation: every call is one generation of 128, the first centred on 0.5
    assert all(batch.shape == (128, 6) for batch in objective.calls)
    assert abs(float(np.mean(objective.calls[0])) - 0.5) < 0.05


def test_st_ito_runs_the_full_4096_evaluations_while_improving() -> None:
    objective = Planted([0.02] * 40, dim=4)
    result = cmaes(objective, np.zeros(4), resolve_search({"preset": "st-ito"}, seed=1))
    assert result.curve[-1].evaluations == 4096
    assert result.stop_reason == "iterations"


def test_cpu_preset_evaluates_the_neutral_start_first() -> None:
    objective = Planted([0.0] * 40, dim=4)
    x0 = np.array([0.1, 0.2, 0.3, 0.4])
    result = cmaes(objective, x0, resolve_search({}, seed=0))
    np.testing.assert_array_equal(objective.calls[0], x0[None, :])
    assert result.initial_objective == pytest.approx(1.0 + 1e-6 * np.sum((x0 - 0.3) ** 2))
    assert len(objective.calls) == 1 + 8  # flat: patience 8 stops it
