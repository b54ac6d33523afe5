"""Inference-time optimisation: CMA-ES over the normalised chain parameters (ST-ITO).

The objective is 1 - cos(z(processed source), z(target)) plus an optional weighted audio-feature distance.
The encoder enters only through `embed_fn(stems_batch (B, 4, 2, N)) -> z (B, D)`, so the search is tested
with a deterministic feature embedding and runs unchanged with a trained encoder. All candidates of one
CMA-ES generation are rendered and embedded as one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cma
import numpy as np

from mixrep.stems import SAMPLE_RATE
from mixrep.transfer.chain import ChainSettings, render
from mixrep.transfer.distances import MixFeatures, cosine_distance, feature_distance, mix_features
from mixrep.transfer.params import ParamSpace

EmbedFn = Callable[[np.ndarray], np.ndarray]
INVALID = 1e3  # objective of a candidate whose embedding is not finite: worse than any valid one


@dataclass(frozen=True)
class ItoSettings:
    """CMA-ES settings (config section `transfer.cmaes`).

    Args:
        popsize: candidates per generation (rendered and embedded as one batch).
        sigma0: initial step size in the normalised [0, 1] space.
        iterations: maximum generations.
        patience: stop after this many consecutive generations whose best fails to improve on the best so far
            by at least `min_delta` (ST-ITO's rule: `min(fvals) - best > -0.01` counts, stop when the count
            exceeds 10, i.e. patience 11, min_delta 0.01).
        min_delta: improvement that resets the patience counter.
        seed: seed of CMA-ES's sampler (cma treats 0 as "from the clock", so seed + 1 is passed).
        start: "neutral" = the identity chain (`x0` as given); "center" = every coordinate at 0.5, as ST-ITO.
        evaluate_start: evaluate the start point first (generation 0), so the result is never worse than it;
            ST-ITO does not (its budget is popsize x iterations exactly).
        cma_stop: also end when one of cma's own termination criteria fires (tolx, tolflatfitness, ...);
            ST-ITO's loop never consults `es.stop()`, so its preset sets False.
    """

    popsize: int = 12
    sigma0: float = 0.2
    iterations: int = 20
    patience: int = 8
    min_delta: float = 1e-4
    seed: int = 0
    start: str = "neutral"
    evaluate_start: bool = True
    cma_stop: bool = True

    def __post_init__(self) -> None:
        if self.start not in ("neutral", "center"):
            raise ValueError(f"start must be 'neutral' or 'center', got {self.start!r}")


@dataclass
class CurvePoint:
    """One generation of the search."""

    iteration: int
    evaluations: int
    best: float  # best objective so far
    generation_best: float
    generation_mean: float
    sigma: float


@dataclass
class ItoResult:
    """Best normalised vector, its objective, the curve and why the search stopped."""

    x: np.ndarray
    objective: float
    initial_objective: float | None  # None when the start point was not evaluated (ST-ITO)
    curve: list[CurvePoint] = field(default_factory=list)
    stop_reason: str = ""


def cmaes(objective: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, settings: ItoSettings) -> ItoResult:
    """Minimise a batched objective (P, dim) -> (P,) over [0, 1]^dim with CMA-ES, from x0.

    With `settings.evaluate_start` the start point is evaluated first (generation 0), so the result is never
    worse than it; `settings.start == "center"` replaces x0 by 0.5 everywhere (ST-ITO).
    cma seeds numpy's global generator; its state is restored afterwards so callers see no side effect.
    """
    state = np.random.get_state()
    try:
        return _cmaes(objective, x0, settings)
    finally:
        np.random.set_state(state)


def _cmaes(objective: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, settings: ItoSettings) -> ItoResult:
    x0 = np.clip(np.asarray(x0, dtype=np.float64), 0.0, 1.0)
    if settings.start == "center":
        x0 = np.full_like(x0, 0.5)
    if settings.evaluate_start or x0.size == 0:
        f0 = float(np.asarray(objective(x0[None, :]))[0])
        evaluations = 1
    else:
        f0, evaluations = float("inf"), 0
    best_x, best_f = x0.copy(), f0
    curve = [CurvePoint(0, evaluations, f0, f0, f0, settings.sigma0)] if evaluations else []
    if x0.size == 0:
        return ItoResult(best_x, best_f, f0, curve, "nothing to optimise")
    if x0.size == 1:  # cma needs >= 2 dimensions; pad with a second coordinate the objective ignores
        padded = _pad_objective(objective)
        result = _cmaes(padded, np.array([x0[0], 0.5]), settings)
        result.x = result.x[:1]
        return result
    options = {"seed": settings.seed + 1, "popsize": settings.popsize, "bounds": [0.0, 1.0],
               "maxiter": settings.iterations, "verbose": -9, "verb_log": 0, "verb_disp": 0,
               "tolfun": 0.0, "tolx": 1e-9}
    es = cma.CMAEvolutionStrategy(x0.tolist(), settings.sigma0, options)
    stale, stop_reason, evaluations_at_start = 0, "iterations", evaluations > 0
    for iteration in range(1, settings.iterations + 1):
        candidates = np.clip(np.asarray(es.ask(), dtype=np.float64), 0.0, 1.0)
        values = np.asarray(objective(candidates), dtype=np.float64).reshape(-1)
        if values.shape[0] != candidates.shape[0] or not np.all(np.isfinite(values)):
            raise FloatingPointError(f"objective returned {values!r} for {candidates.shape[0]} candidates")
        es.tell(list(candidates), values.tolist())
        evaluations += candidates.shape[0]
        k = int(np.argmin(values))
        if values[k] - best_f <= -settings.min_delta:  # improved by at least min_delta (ST-ITO's test)
            stale = 0
        else:
            stale += 1
        if values[k] < best_f:
            best_x, best_f = candidates[k].copy(), float(values[k])
        curve.append(CurvePoint(iteration, evaluations, best_f, float(values[k]), float(values.mean()),
                                float(es.sigma)))
        if stale >= settings.patience:
            stop_reason = f"no improvement >= {settings.min_delta} for {settings.patience} generations"
            break
        stop = {key: value for key, value in es.stop().items() if key not in ("maxiter",)}
        if stop and settings.cma_stop:
            stop_reason = "cma: " + ", ".join(sorted(stop))
            break
    return ItoResult(best_x, best_f, f0 if evaluations_at_start else None, curve, stop_reason)


def _pad_objective(objective: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    def padded(x: np.ndarray) -> np.ndarray:
        return objective(np.asarray(x)[:, :1])
    return padded


class StyleObjective:
    """The ST-ITO objective for one (source stems, target stems) pair.

    Args:
        space: the optimised parameters.
        embed_fn: (B, 4, 2, N) stems -> (B, D) embeddings.
        chain: fixed chain settings (master loudness target, reverb).
        feature_weight: weight of the loudness-free audio-feature distance (0 = embedding only).
        sample_rate: of the stems.
    """

    def __init__(self, space: ParamSpace, embed_fn: EmbedFn, target_stems: np.ndarray, source_stems: np.ndarray,
                 chain: ChainSettings | None = None, feature_weight: float = 0.0,
                 sample_rate: int = SAMPLE_RATE) -> None:
        self.space, self.embed_fn = space, embed_fn
        self.chain = chain or ChainSettings()
        self.feature_weight = float(feature_weight)
        self.sample_rate = sample_rate
        self.source = np.asarray(source_stems, dtype=np.float32)
        target = np.asarray(target_stems, dtype=np.float32)
        self.z_target = np.asarray(embed_fn(target[None]), dtype=np.float64)[0]
        self.target_features: MixFeatures | None = (
            mix_features(target.sum(axis=0), sample_rate) if self.feature_weight > 0 else None)

    def render(self, vector: np.ndarray) -> np.ndarray:
        """Processed source stems (4, 2, N) for one normalised vector."""
        return render(self.source, self.space.to_physical(vector), self.sample_rate, self.space.bypass, self.chain)

    def embedding_distance(self, stems_batch: np.ndarray) -> np.ndarray:
        z = np.asarray(self.embed_fn(stems_batch), dtype=np.float64)
        return cosine_distance(z, self.z_target[None, :])

    def __call__(self, candidates: np.ndarray) -> np.ndarray:
        batch = np.stack([self.render(x) for x in np.atleast_2d(candidates)])  # P, 4, 2, N
        values = self.embedding_distance(batch)
        if self.feature_weight > 0 and self.target_features is not None:
            values = values + self.feature_weight * np.array(
                [feature_distance(mix_features(stems.sum(axis=0), self.sample_rate), self.target_features)
                 for stems in batch])
        return np.where(np.isfinite(values), values, INVALID)
