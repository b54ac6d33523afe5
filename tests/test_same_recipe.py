"""Positives that force mixing over content: the shared recipe pool, same_recipe batches, cross-content retrieval."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

import mixrep.pretrain.train as train_module
from mixrep.degrade import DegradeSettings, sample_recipe
from mixrep.degrade.recipes import NO_POOL, recipe_id_of, track_recipe_order
from mixrep.evaluation.retrieval import across_content_units, within_content_units
from mixrep.pretrain.config import PretrainSettings
from mixrep.pretrain.data import ItemSet, attach_recipe_ids, prepare_items, recipe_epoch_pairs, recipe_pairs_per_epoch
from mixrep.pretrain.retrieval import retrieval_scores
from fixtures.toy_corpus import make_toy_corpus
from mixrep.runs import FAMILIES


# ------------------------------------------------------------------------------------------------ recipe pool
def test_the_same_recipe_on_two_tracks_has_the_same_effects():
    config = DegradeSettings(recipe_pool=16)
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
    config = DegradeSettings(recipe_pool=10, variants_per_track=3)
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
    config = DegradeSettings(recipe_pool=0)
    recipe = sample_recipe("a", 1, config, 0)
    assert recipe.recipe_id == NO_POOL and recipe.effects
    assert sample_recipe("a", 0, config, 0).recipe_id == 0
    with pytest.raises(ValueError, match="recipe_pool=4 is smaller than variants_per_track=8"):
        DegradeSettings(recipe_pool=4)
    with pytest.raises(ValueError, match="recipe_pool"):
        DegradeSettings.from_config({"recipe_pool": -1})
    with pytest.raises(ValueError, match="needs more than the degrade.recipe_pool=8"):
        sample_recipe("a", 9, DegradeSettings(recipe_pool=8), 0)


# ------------------------------------------------------------------------------------------------ same_recipe batches
def _toy_recipes(n_tracks: int, n_variants: int, pool: int, seed: int = 0) -> pd.DataFrame:
    """Pool ids drawn the way degrade draws them: a permutation of 1..pool per track."""
    rows = []
    for t in range(n_tracks):
        order = track_recipe_order(seed, f"toy-{t:03d}", pool)
        for v in range(n_variants):
            rows.append({"track_id": f"toy-{t:03d}", "variant_id": v, "recipe_id": 0 if v == 0 else int(order[v - 1])})
    return pd.DataFrame(rows)


def test_recipe_ids_attach_by_key_and_survive_subsets():
    corpus = make_toy_corpus(n_tracks=5, n_variants=3, seconds=0.3, seed=1)
    items, _ = prepare_items(corpus.bank, corpus.features, corpus.manifest, FAMILIES, 8)
    table = _toy_recipes(5, 3, 4).iloc[1:]  # toy-000 variant 0 missing from the table -> -1
    items = attach_recipe_ids(items, table.sample(frac=1.0, random_state=0))
    lookup = {(r.track_id, r.variant_id): r.recipe_id for r in table.itertuples()}
    assert [int(x) for x in items.recipe_id] == [lookup.get((t, int(v)), -1)
                                                  for t, v in zip(items.track_id, items.variant_id)]
    train = items.of_split("train")
    assert np.array_equal(train.recipe_id, items.recipe_id[items.split == "train"])
    with pytest.raises(ValueError, match="several recipe ids"):
        attach_recipe_ids(items, pd.concat([table, table.assign(recipe_id=table["recipe_id"] + 1)]))


def test_recipe_pairs_share_the_recipe_differ_in_track_and_never_repeat_a_recipe_in_a_batch():
    rng = np.random.default_rng(3)
    n_tracks, pool = 30, 16
    tracks = np.repeat(np.arange(n_tracks), 9)
    recipes = np.concatenate([[0, *rng.permutation(pool)[:8] + 1] for _ in range(n_tracks)])
    recipes[5] = -1  # an item without a pool id takes no part
    for epoch in range(3):
        anchors, positives = recipe_epoch_pairs(tracks, recipes, seed=4, epoch=epoch, batch_size=8)
        assert anchors.shape == positives.shape == (recipe_pairs_per_epoch(tracks, recipes) // 8, 8)
        assert np.all(recipes[anchors] == recipes[positives]) and np.all(recipes[anchors] > 0)
        assert np.all(tracks[anchors] != tracks[positives])
        for a_row in anchors:
            assert len(set(recipes[a_row].tolist())) == 8  # each recipe at most once per batch
        both = np.concatenate([anchors, positives], axis=1)
        assert all(len(set(row.tolist())) == 16 for row in both)  # no item twice in a batch
        again = recipe_epoch_pairs(tracks, recipes, seed=4, epoch=epoch, batch_size=8)
        assert np.array_equal(again[0], anchors) and np.array_equal(again[1], positives)
    other = recipe_epoch_pairs(tracks, recipes, seed=4, epoch=1, batch_size=8)
    first = recipe_epoch_pairs(tracks, recipes, seed=4, epoch=0, batch_size=8)
    assert not np.array_equal(other[0], first[0])
    # every pool item (239: one lacks an id) is the anchor of one pair per epoch, bar the dropped tail
    assert recipe_pairs_per_epoch(tracks, recipes) == 239 and first[0].size == 29 * 8
    assert len(np.unique(first[0])) >= 0.95 * first[0].size


def test_too_few_shared_recipes_for_a_batch_is_an_error():
    tracks = np.repeat(np.arange(4), 3)
    recipes = np.tile([0, 1, 2], 4)
    with pytest.raises(ValueError, match="only 2 recipes occur on two or more training tracks"):
        recipe_epoch_pairs(tracks, recipes, 0, 0, batch_size=4)


TINY = {"preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2,
                                               "patch_frames": 8, "dropout": 0.0}},
        "segment_frames": 24, "batch_size": 4, "group_size": 2, "epochs": 2, "warmup_steps": 1,
        "cond_hidden": 16, "checkpoint_every": 100, "lr": 3e-3}


@pytest.fixture(scope="module")
def toy_recipe_items():
    corpus = make_toy_corpus(n_tracks=14, n_variants=5, seconds=0.6, seed=2)
    items, stats = prepare_items(corpus.bank, corpus.features, corpus.manifest, FAMILIES, 24)
    return corpus.bank, attach_recipe_ids(items, _toy_recipes(14, 5, 6)), stats


def test_same_recipe_training_pairs_the_recipe_across_tracks(toy_recipe_items, tmp_path, monkeypatch):
    bank, items, stats = toy_recipe_items
    seen = []
    real_gather = train_module.gather_segments

    def gather(source, mel_index, starts, length):
        seen.append(np.asarray(mel_index).copy())
        return real_gather(source, mel_index, starts, length)

    monkeypatch.setattr(train_module, "gather_segments", gather)
    torch.set_num_threads(1)
    settings = PretrainSettings.from_config({"pretrain": TINY})
    result = train_module.train_encoder("film-all-recipe", 0, bank, items, stats, settings, tmp_path / "a",
                                        torch.device("cpu"), log_print=lambda _: None)
    train = items.of_split("train")
    expected = recipe_pairs_per_epoch(np.unique(train.track_id, return_inverse=True)[1], train.recipe_id) // 4
    assert result.steps == 2 * expected == len(seen) and expected >= 1
    recipe_of = {int(m): int(r) for m, r in zip(items.mel_index, items.recipe_id)}
    track_of = {int(m): t for m, t in zip(items.mel_index, items.track_id)}
    train_mels = set(train.mel_index.tolist())
    for mel in seen:
        anchors, positives = mel[:4], mel[4:]
        assert set(mel.tolist()) <= train_mels
        assert [recipe_of[a] for a in anchors] == [recipe_of[p] for p in positives]
        assert all(recipe_of[a] > 0 for a in anchors) and len({recipe_of[a] for a in anchors}) == 4
        assert all(track_of[a] != track_of[p] for a, p in zip(anchors, positives))
    assert "val_across_top1" in result.log[-1]  # val retrieval across content, the items carrying recipe ids
    again = train_module.train_encoder("film-all-recipe", 0, bank, items, stats, settings, tmp_path / "b",
                                       torch.device("cpu"), log_print=lambda _: None)
    assert result.step_losses == again.step_losses
    for x, y in zip(result.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(x, y)


def test_cross_views_take_one_own_window_per_item_whatever_the_rank_split():
    counts = np.array([3, 1, 4, 2, 5, 2])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    total = int(offsets[-1])
    seg_features = {"dynamics": np.arange(total * 2, dtype=np.float32).reshape(total, 2)}
    items = ItemSet(mel_index=np.arange(10, 16), track_id=np.array(list("abcdef")), variant_id=np.ones(6, np.int64),
                    split=np.array(["train"] * 6), genre=np.array(["pop"] * 6),
                    features={"dynamics": np.zeros((6, 2), np.float32)}, num_frames=np.full(6, 200),
                    seg_offsets=offsets, seg_starts=np.arange(total) * 7, seg_features=seg_features,
                    recipe_id=np.array([1, 2, 3, 1, 2, 3]))
    anchors, positives = np.array([0, 1, 2]), np.array([3, 4, 5])
    cpu = torch.device("cpu")
    starts, mels, feats = train_module._cross_views(items, anchors, positives, slice(0, 3), 24,
                                                    np.random.default_rng(0), cpu)
    assert mels.tolist() == [10, 11, 12, 13, 14, 15]
    rows = starts // 7  # the segment rows drawn
    owner = np.searchsorted(offsets, rows, side="right") - 1
    assert owner.tolist() == [0, 1, 2, 3, 4, 5]  # each view is a window of its own item
    assert np.array_equal(feats["dynamics"].numpy(), seg_features["dynamics"][rows])  # with its own features
    parts = [train_module._cross_views(items, anchors, positives, mine, 24, np.random.default_rng(0), cpu)[0]
             for mine in (slice(0, 2), slice(2, 3))]  # two ranks draw what one process draws
    assert np.concatenate([parts[0][:2], parts[1][:1], parts[0][2:], parts[1][1:]]).tolist() == starts.tolist()


def test_same_recipe_needs_recipe_ids(toy_recipe_items, tmp_path):
    bank, items, stats = toy_recipe_items
    settings = PretrainSettings.from_config({"pretrain": TINY})
    with pytest.raises(ValueError, match="need the items' recipe ids"):
        train_module.train_encoder("none-recipe", 0, bank, replace(items, recipe_id=None), stats, settings, tmp_path,
                                   torch.device("cpu"), log_print=lambda _: None)


# ------------------------------------------------------------------------------------------------ retrieval
@pytest.mark.parametrize("block", [1, 3, 1024])
def test_within_units_equal_the_top1_of_the_same_arrays(block):
    rng = np.random.default_rng(0)
    queries = np.round(rng.standard_normal((40, 3)))  # rounded: ties happen
    keys = np.round(queries + 0.8 * rng.standard_normal((40, 3)))
    tracks = np.repeat([f"t{k}" for k in range(10)], 4)
    variants = np.tile(np.arange(4), 10)
    units = within_content_units(queries, keys, tracks, variants, "film-all", 2, block=block)
    assert list(units.columns) == ["source", "seed", "metric", "unit", "item", "group", "y_true", "y_pred"]
    assert units["metric"].eq("retrieval_within").all() and units["seed"].eq(2).all()
    assert units["item"].tolist()[:2] == ["t0:0", "t0:1"] and units["unit"].tolist()[4] == "t1"
    assert units["y_pred"].mean() == retrieval_scores(queries, keys, tracks)["top1"]
    assert 0 < units["y_pred"].mean() < 1


def _planted(n_tracks: int = 40, pool: int = 16, variants: int = 8):
    rng = np.random.default_rng(1)
    track = np.repeat([f"t{k:02d}" for k in range(n_tracks)], variants + 1)
    variant = np.tile(np.arange(variants + 1), n_tracks)
    recipe = np.concatenate([[0, *(rng.permutation(pool)[:variants] + 1)] for _ in range(n_tracks)])
    return rng, track, variant, recipe


def test_across_is_perfect_for_an_embedding_of_the_recipe():
    rng, track, variant, recipe = _planted()
    embeddings = np.eye(17)[recipe] + 1e-3 * rng.standard_normal((len(recipe), 17))
    units, info = across_content_units(embeddings, track, variant, recipe, "x", 0)
    assert info["n_queries"] == np.count_nonzero(recipe > 0) == len(units)
    assert units["y_pred"].mean() == 1.0 and info["value"] == 1.0
    assert set(units["item"]) == {f"{t}:{v}" for t, v, r in zip(track, variant, recipe) if r > 0}


def test_across_is_at_chance_for_an_embedding_of_the_track():
    rng, track, variant, recipe = _planted()
    codes = np.unique(track, return_inverse=True)[1]
    embeddings = np.eye(40)[codes] + 0.05 * rng.standard_normal((len(codes), 40))
    units, info = across_content_units(embeddings, track, variant, recipe, "x", 0, block=7)
    # each query: 39 other tracks x 8 candidates, its recipe on ~39 x 8/16 of them: chance ~ 1/16
    assert info["chance"] == pytest.approx(1 / 16, abs=0.01)
    assert abs(units["y_pred"].mean() - info["chance"]) < 0.04  # 320 queries: sd ~0.014


def test_across_on_a_hand_computed_case():
    #         item:   a0    a1    a2    b0    b1    b2    c1
    track = np.array(["a", "a", "a", "b", "b", "b", "c"])
    variant = np.array([0, 1, 2, 0, 1, 2, 1])
    recipe = np.array([0, 1, 2, 0, 2, 3, 1])
    angle = np.deg2rad([0, 0, 90, 1, 80, 10, 170])
    embeddings = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    units, info = across_content_units(embeddings, track, variant, recipe, "cell", 3)
    # queries: a1 (recipe 1 also on c), a2 (recipe 2 also on b), b1 (2 on a), c1 (1 on a); b2 (3) is alone
    assert units["item"].tolist() == ["a:1", "a:2", "b:1", "c:1"]
    # a1 at 0 deg: other-track candidates b1 (80), b2 (10), c1 (170) -> b2, recipe 3: miss
    # a2 at 90: b1 (80) -> recipe 2: hit;  b1 at 80: a1 (0), a2 (90), c1 (170) -> a2: hit
    # c1 at 170: a1 (0), a2 (90), b1 (80), b2 (10) -> a2 (80 deg away): recipe 2: miss
    assert units["y_pred"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert units["unit"].tolist() == ["a", "a", "b", "c"] and units["seed"].eq(3).all()
    # chance: a1 1/3 (c1 of b1, b2, c1), a2 1/3 (b1), b1 1/3 (a2 of a1, a2, c1), c1 1/4 (a1)
    assert info["n_queries"] == 4 and info["n_candidates"] == 5
    assert info["chance"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 3 + 1 / 4) / 4)


def test_across_without_pool_ids_has_no_queries():
    units, info = across_content_units(np.ones((3, 2)), np.array(["a", "b", "c"]), np.array([1, 1, 1]),
                                       np.array([-1, -1, -1]), "x", 0)
    assert len(units) == 0 and info == {"n_queries": 0, "n_candidates": 0, "chance": None}
    units, info = across_content_units(np.eye(3), np.array(["a", "b", "c"]), np.array([1, 1, 1]),
                                       np.array([1, 2, 3]), "x", 0)
    assert len(units) == 0 and info["n_queries"] == 0 and info["n_candidates"] == 3
