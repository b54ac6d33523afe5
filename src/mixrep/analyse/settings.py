"""Settings of the analyse pass: the sections of the stages it replaces, plus `analysis.excerpt_s`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mixrep.degrade.config import DegradeSettings
from mixrep.features.settings import FeatureSettings
from mixrep.pretrain.config import PretrainSettings


@dataclass(frozen=True)
class AnalyseSettings:
    """Everything one shard's pass needs.

    excerpt_s: seconds read per track, centred (None = the whole track). The default (12 s) is the default
        run's whole track, so the default corpus loses no audio; on long tracks (fma_full) it bounds memory.
    """

    seed: int
    degrade: DegradeSettings
    features: FeatureSettings
    pretrain: PretrainSettings
    excerpt_s: float | None = 12.0

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> AnalyseSettings:
        analysis = dict(settings.get("analysis") or {})
        unknown = sorted(set(analysis) - {"excerpt_s"})
        if unknown:
            raise ValueError(f"unknown analysis settings {unknown}; known: ['excerpt_s']")
        excerpt = analysis.get("excerpt_s", 12.0)
        if excerpt is not None and excerpt <= 0:
            raise ValueError(f"analysis.excerpt_s must be positive or null, got {excerpt}")
        return cls(seed=int(settings.get("seed", 0)), degrade=DegradeSettings.from_config(settings.get("degrade")),
                   features=FeatureSettings.from_config(settings.get("features")),
                   pretrain=PretrainSettings.from_config(settings), excerpt_s=excerpt)
