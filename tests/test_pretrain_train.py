"""Training: a few steps lower the loss; a killed run resumes to identical weights; determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mixrep.pretrain.config import PretrainSettings
from mixrep.pretrain.data import prepare_items
from fixtures.toy_corpus import make_toy_corpus
from mixrep.pretrain.train import RESUME_NAME, lr_factor, train_encoder
from mixrep.runs import FAMILIES

TINY = {"preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2,
                                               "patch_frames": 8, "dropout": 0.1}},
        "segment_frames": 24, "batch_size": 4, "group_size": 2, "epochs": 3, "warmup_steps": 2,
        "cond_hidden": 16, "checkpoint_every": 2, "lr": 3e-3}


@pytest.fixture(scope="module")
def toy():
    corpus = make_toy_corpus(n_tracks=8, n_variants=3, seconds=0.6, seed=2)
    items, stats = prepare_items(corpus.bank, corpus.features, corpus.manifest, FAMILIES, 24)
    return corpus.bank, items, stats


def settings(**overrides) -> PretrainSettings:
    return PretrainSettings.from_config({"pretrain": {**TINY, **overrides}})


def quiet(_: str) -> None:
    return None


def test_lr_schedule_warms_up_then_decays() -> None:
    values = [lr_factor(s, 4, 20) for s in range(20)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(values[3:], values[4:]))
    assert values[-1] < 0.05


def test_a_few_steps_lower_the_loss(toy, tmp_path) -> None:
    bank, items, stats = toy
    torch.set_num_threads(1)
    result = train_encoder("film-all", 0, bank, items, stats, settings(epochs=8), tmp_path, torch.device("cpu"),
                           log_print=quiet)
    first, last = result.log[0]["loss"], result.log[-1]["loss"]
    assert last < 0.8 * first, (first, last)
    assert result.steps == 8 * (len(items.of_split("train")) // 4)
    assert {"val_top1", "val_top1_within_track", "lr"} <= set(result.log[-1])


class Killed(RuntimeError):
    pass


def test_killed_run_resumes_to_identical_weights(toy, tmp_path) -> None:
    bank, items, stats = toy
    cpu = torch.device("cpu")
    full = train_encoder("xattn-no_stereo", 5, bank, items, stats, settings(), tmp_path / "full", cpu,
                         log_print=quiet)

    def kill_at_5(step: int, loss: float) -> None:
        if step == 5:  # after the checkpoint of step 4, before the one of step 6
            raise Killed

    with pytest.raises(Killed):
        train_encoder("xattn-no_stereo", 5, bank, items, stats, settings(), tmp_path / "cut", cpu,
                      on_step=kill_at_5, log_print=quiet)
    assert (tmp_path / "cut" / RESUME_NAME).exists()
    messages: list[str] = []
    resumed = train_encoder("xattn-no_stereo", 5, bank, items, stats, settings(), tmp_path / "cut", cpu,
                            log_print=messages.append)
    assert resumed.resumed_from == 4 and any("resumed" in m for m in messages)
    for key, value in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)
    assert resumed.step_losses == full.step_losses
    assert [r["loss"] for r in resumed.log] == [r["loss"] for r in full.log]


def test_checkpoint_of_other_settings_is_not_resumed(toy, tmp_path) -> None:
    bank, items, stats = toy
    cpu = torch.device("cpu")
    train_encoder("none", 1, bank, items, stats, settings(epochs=1), tmp_path, cpu, log_print=quiet)
    messages: list[str] = []
    result = train_encoder("none", 1, bank, items, stats, settings(epochs=1, lr=1e-3), tmp_path, cpu,
                           log_print=messages.append)
    assert result.resumed_from == 0 and any("ignoring" in m for m in messages)


def test_same_seed_same_weights_other_seed_differs(toy, tmp_path) -> None:
    bank, items, stats = toy
    cpu = torch.device("cpu")
    runs = [train_encoder("prepend-all", seed, bank, items, stats, settings(epochs=1), tmp_path / str(i), cpu,
                          log_print=quiet) for i, seed in enumerate([3, 3, 4])]
    a, b, c = (r.model.state_dict()["patch.weight"] for r in runs)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert np.isfinite(runs[0].step_losses).all()
