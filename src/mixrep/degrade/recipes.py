"""Drawing recipes: which faults, on which stems, with which parameters — from a seed, never from state.

A recipe pool (`degrade.recipe_pool: P`, default 64) is shared by all tracks, so that the same fault recipe
is applied to several different tracks (what `same_recipe` positives and cross-content retrieval need):
- recipe `r` in 1..P draws its faults, stems and parameters from (master seed, r) alone, independent of the
  track; relative parameters (compressor/expander `threshold_rel_db`) stay relative and are resolved per
  track when rendered, so "the same recipe" means the same processing, not the same absolute levels;
- track t's variants 1..V use the first V entries of a permutation of 1..P drawn from (master seed, t), so a
  track's variants carry distinct recipes and every track draws independently of the others.
With `recipe_pool: 0` every (track, variant) draws its own recipe from (master seed, track_id, variant_id)
(the former behaviour; recipe_id -1). Variant 0 is the reference (recipe_id 0, no effects).

Track ids are hashed with SHA-256 (stable across processes and machines, unlike Python's salted `hash()`)
and fed into numpy `SeedSequence`s, so the recipes of a shard are identical whatever order, process or number
of cores draws them. A recipe draws `min_faults..max_faults` distinct fault types (at most as many as are
enabled) (in the order of `degrade.faults`), each on a uniformly drawn stem, its parameters drawn by the fault's
own `draw` (mixrep.degrade.faults) from its config section.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from mixrep.degrade.config import DegradeSettings
from mixrep.degrade.effects import Effect
from mixrep.degrade.faults import make_effect
from mixrep.stems import STEMS

ALL_STEMS = "all"
NO_POOL = -1  # recipe_id of a variant drawn per (track, variant) (recipe_pool: 0)
_RECIPE_TAG = 0x5EC1  # seed-sequence words that keep pool draws apart from per-variant draws
_ORDER_TAG = 0x0DE5


@dataclass(frozen=True)
class EffectSpec:
    """One recipe entry: an effect applied to one stem (or to every stem: `stem == "all"`)."""

    stem: str
    effect: Effect

    def __post_init__(self) -> None:
        if self.stem not in (*STEMS, ALL_STEMS):
            raise ValueError(f"unknown stem {self.stem!r} in recipe (known: {[*STEMS, ALL_STEMS]})")

    def to_dict(self) -> dict[str, Any]:
        return {"stem": self.stem, "effect": self.effect.name, "params": self.effect.params()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EffectSpec":
        try:
            return cls(stem=data["stem"], effect=make_effect(data["effect"], data.get("params", {})))
        except KeyError as exc:
            raise ValueError(f"recipe entry {data!r} lacks the key {exc}") from None


@dataclass(frozen=True)
class Recipe:
    """What a variant is: the effect chain in application order and the seed that drew it."""

    track_id: str
    variant_id: int
    seed: int
    effects: tuple[EffectSpec, ...]
    recipe_id: int = NO_POOL  # 0 reference, 1..P pool recipe, -1 drawn per (track, variant)

    @property
    def fault_types(self) -> str:
        """Comma-joined fault names in chain order ("none" for the reference); headroom is not a fault."""
        names = [spec.effect.name for spec in self.effects if spec.effect.name != "headroom"]
        return ",".join(names) if names else "none"

    def effects_json(self) -> str:
        return effects_to_json(self.effects)


def effects_to_json(effects: Sequence[EffectSpec]) -> str:
    return json.dumps([spec.to_dict() for spec in effects], sort_keys=True)


def effects_from_json(text: str | Sequence[Any]) -> tuple[EffectSpec, ...]:
    """Parse a recipe's `effects` (a JSON string, a list of dicts, or EffectSpecs)."""
    if isinstance(text, str):
        try:
            text = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"effects is not valid JSON: {exc}") from None
    if not isinstance(text, (list, tuple)):
        raise ValueError(f"effects must be a list, got {type(text).__name__}")
    return tuple(item if isinstance(item, EffectSpec) else EffectSpec.from_dict(item) for item in text)


def track_words(track_id: str) -> list[int]:
    """Four 32-bit words of SHA-256(track_id): a stable, process-independent hash."""
    digest = hashlib.sha256(track_id.encode("utf-8")).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


def variant_seed_sequence(seed: int, track_id: str, variant_id: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), *track_words(track_id), int(variant_id)])


def variant_seed(seed: int, track_id: str, variant_id: int) -> int:
    """The 63-bit seed of one (track, variant), written to the recipes' `seed` column."""
    low, high = variant_seed_sequence(seed, track_id, variant_id).generate_state(2, dtype=np.uint32)
    return int((int(high) & 0x7FFFFFFF) << 32 | int(low))


def recipe_seed_sequence(seed: int, recipe_id: int) -> np.random.SeedSequence:
    """The generator of pool recipe `recipe_id`: (master seed, recipe_id) only, never the track."""
    return np.random.SeedSequence([int(seed), _RECIPE_TAG, int(recipe_id)])


def track_recipe_order(seed: int, track_id: str, pool: int) -> np.ndarray:
    """Pool recipe ids 1..pool in the order track `track_id` uses them: variant v gets entry v-1."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _ORDER_TAG, *track_words(track_id)]))
    return rng.permutation(int(pool)).astype(np.int64) + 1


def recipe_id_of(track_id: str, variant_id: int, config: DegradeSettings, seed: int) -> int:
    """recipe_id of one (track, variant): 0 for the reference, the pool id, or -1 without a pool."""
    if variant_id < 0:
        raise ValueError(f"variant_id must be >= 0, got {variant_id}")
    if variant_id == 0:
        return 0
    if config.recipe_pool == 0:
        return NO_POOL
    if variant_id > config.recipe_pool:
        raise ValueError(f"variant {variant_id} needs more than the degrade.recipe_pool={config.recipe_pool} "
                         "recipes (a track's variants carry distinct recipes)")
    return int(track_recipe_order(seed, track_id, config.recipe_pool)[variant_id - 1])


def draw_effects(rng: np.random.Generator, config: DegradeSettings) -> tuple[EffectSpec, ...]:
    """One recipe's effect chain from `rng`: distinct fault types, each on a drawn stem."""
    most = min(config.max_faults, len(config.faults))  # distinct types: at most as many as are enabled
    count = int(rng.integers(config.min_faults, most + 1))
    chosen = rng.choice(len(config.faults), size=count, replace=False)
    specs = []
    for index in chosen:
        name = config.faults[int(index)]
        stem = STEMS[int(rng.integers(len(STEMS)))]
        specs.append(EffectSpec(stem, config.draw(name, rng)))
    return tuple(specs)


def pool_effects(recipe_id: int, config: DegradeSettings, seed: int = 0) -> tuple[EffectSpec, ...]:
    """The effects of pool recipe `recipe_id` (1..P): the same for every track it is applied to."""
    if not 1 <= recipe_id <= max(config.recipe_pool, 0):
        raise ValueError(f"recipe_id must be in 1..{config.recipe_pool}, got {recipe_id}")
    return draw_effects(np.random.default_rng(recipe_seed_sequence(seed, recipe_id)), config)


def sample_recipe(track_id: str, variant_id: int, config: DegradeSettings | dict | None = None,
                  seed: int = 0) -> Recipe:
    """Draw the recipe of one (track, variant); a pure function of its arguments.

    With a pool the effects are those of pool recipe `recipe_id_of(...)`; without one they are drawn from
    (seed, track, variant). `seed` (the recipes' column) stays the (track, variant) seed either way.
    Compressor/expander thresholds stay relative (`threshold_db=None`) until rendering resolves them
    against the stem (render.render_chain), which the degrade rule writes back into the recipe.
    """
    if not isinstance(config, DegradeSettings):
        config = DegradeSettings.from_config(config)
    recipe_id = recipe_id_of(track_id, variant_id, config, seed)
    this_seed = variant_seed(seed, track_id, variant_id)
    if variant_id == 0:
        return Recipe(track_id, 0, this_seed, (), 0)
    if recipe_id == NO_POOL:
        effects = draw_effects(np.random.default_rng(variant_seed_sequence(seed, track_id, variant_id)), config)
    else:
        effects = pool_effects(recipe_id, config, seed)
    return Recipe(track_id, int(variant_id), this_seed, effects, recipe_id)
