"""Positives that force mixing over content: the shared recipe pool, same_recipe batches, cross-content retrieval."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.degrade import DegradeConfig, sample_recipe
from mixrep.degrade.recipes import NO_POOL, recipe_id_of, track_recipe_order


# ------------------------------------------------------------------------------------------------ recipe pool
def test_the_same_recipe_on_two_tracks_has_the_same_effects():
    config = DegradeConfig(recipe_pool=16)
    by_id: dict[int, set[str]] = {}
    tracks_of: dict[int, set[str]] = {}
    for t in range(12):
        track = f"syn-rock-{t}"
        recipes = [sample_recipe(track, v, config, seed=5) for v in range(config.variants_per_track + 1)]
        ids = [r.recipe_id for r in recipes]
        assert ids[0] == 0 and recipes[0].effects == ()
        assert len(set(ids[1:])) == config.variants_per_track and all(1 <= i <= 16 for i in ids[1:])
        for r in recipes[1:]:
            by_id.setdefault(r.recipe_id, set()).add(r.effects_json())
            tracks_of.setdefault(r.recipe_id, set()).add(track)
    shared = [i for i, tracks in tracks_of.items() if len(tracks) >= 2]
    assert len(shared) >= 8  # 12 tracks x 8 of 16 recipes: every recipe recurs
    assert all(len(effects) == 1 for effects in by_id.values())  # one effect list per recipe, whatever the track
    assert len({next(iter(e)) for e in by_id.values()}) == len(by_id)  # and recipes differ from each other


def test_pool_draws_are_pure_and_follow_the_track_order():
    config = DegradeConfig(recipe_pool=10, variants_per_track=3)
    order = track_recipe_order(2, "a", 10)
    assert sorted(order.tolist()) == list(range(1, 11))
    assert [recipe_id_of("a", v, config, 2) for v in (1, 2, 3)] == order[:3].tolist()
    backwards = [sample_recipe("a", v, config, 2) for v in (3, 2, 1)][::-1]
    assert [r.effects_json() for r in backwards] == [sample_recipe("a", v, config, 2).effects_json() for v in (1, 2, 3)]
    assert not np.array_equal(track_recipe_order(2, "b", 10), order)  # tracks draw their own orders
    assert not np.array_equal(track_recipe_order(3, "a", 10), order)  # and so does another master seed
    other_seed = {r: sample_recipe("a", v, config, 3) for v in (1, 2, 3) for r in [recipe_id_of("a", v, config, 3)]}
    same_seed = {recipe_id_of("z", v, config, 2): sample_recipe("z", v, config, 2) for v in (1, 2, 3)}
    for recipe_id, recipe in other_seed.items():  # the recipe's effects depend on the master seed
        if recipe_id in same_seed:
            assert recipe.effects_json() != same_seed[recipe_id].effects_json()


def test_pool_zero_draws_per_variant_and_small_pools_are_refused():
    config = DegradeConfig(recipe_pool=0)
    recipe = sample_recipe("a", 1, config, 0)
    assert recipe.recipe_id == NO_POOL and recipe.effects
    assert sample_recipe("a", 0, config, 0).recipe_id == 0
    with pytest.raises(ValueError, match="recipe_pool=4 is smaller than variants_per_track=8"):
        DegradeConfig(recipe_pool=4)
    with pytest.raises(ValueError, match="recipe_pool"):
        DegradeConfig.from_dict({"recipe_pool": -1})
    with pytest.raises(ValueError, match="needs more than the degrade.recipe_pool=8"):
        sample_recipe("a", 9, DegradeConfig(recipe_pool=8), 0)
