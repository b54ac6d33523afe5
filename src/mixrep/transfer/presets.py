"""Named CMA-ES search budgets of the transfer stage (`transfer.preset`).

`cpu` (the default) is sized for two shared CPU cores: popsize 12, sigma0 0.2, at most 20 generations
(<= 241 evaluations with the start point), started at the identity chain. `st-ito` is the search of the
published ST-ITO evaluation (Steinmetz et al., ISMIR 2024; `scripts/eval/eval_pst.py` and
`st_ito/style_transfer.py::run_es` of github.com/csteinmetz1/st-ito): popsize 128, sigma0 0.33, 32 generations
(4,096 evaluations), every normalised coordinate started at 0.5 (the start is not evaluated on its own), and an
early stop once the generation's best has failed to improve on the best so far by at least 0.01 for more than
10 generations (patience 11); cma's own termination criteria are not consulted (the published loop never
calls `es.stop()`). Keys of `transfer.cmaes` override the preset's values one by one.
"""

from __future__ import annotations

from typing import Any

from mixrep.transfer.ito import ItoSettings

PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {"popsize": 12, "sigma0": 0.2, "iterations": 20, "patience": 8, "min_delta": 1e-4,
            "start": "neutral", "evaluate_start": True, "cma_stop": True},
    "st-ito": {"popsize": 128, "sigma0": 0.33, "iterations": 32, "patience": 11, "min_delta": 0.01,
               "start": "center", "evaluate_start": False, "cma_stop": False},
}
DEFAULT_PRESET = "cpu"
_TYPES = {"popsize": int, "sigma0": float, "iterations": int, "patience": int, "min_delta": float,
          "start": str, "evaluate_start": bool, "cma_stop": bool}


def resolve_search(section: dict[str, Any], seed: int) -> ItoSettings:
    """The CMA-ES settings of a `transfer` config section: the preset, then any `cmaes` overrides."""
    name = section.get("preset") or DEFAULT_PRESET
    if name not in PRESETS:
        raise ValueError(f"transfer.preset {name!r} is not one of {sorted(PRESETS)}")
    overrides = dict(section.get("cmaes") or {})
    unknown = sorted(set(overrides) - set(_TYPES))
    if unknown:
        raise ValueError(f"transfer.cmaes: unknown key(s) {unknown}; known: {sorted(_TYPES)}")
    values = {**PRESETS[name], **overrides}
    return ItoSettings(**{key: _TYPES[key](value) for key, value in values.items()}, seed=int(seed))
