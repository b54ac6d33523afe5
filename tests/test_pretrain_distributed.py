"""Data-parallel pretraining: 2 gloo processes on the CPU train exactly what 1 process trains.

Same global batch, same draws, dropout 0: the per-step losses, the final weights and the embeddings of the
final model of 2 ranks equal those of 1 process up to float rounding (the gradient passes through an
all-gather and an all-reduce), for an even split (2 + 2 items), an uneven one (2 + 1) and a run resumed by
2 ranks from a 1-process checkpoint. The Mels are streamed from a MelStore on disk, as in the workflow.

Weights that AdamW moves by rounding noise: the key part of attention's `in_proj_bias` has a gradient that
is exactly zero in exact arithmetic (softmax ignores a constant added to every key's logit), and a few
other elements get gradients ~1e-8 (the median is ~0.1). Adam divides the gradient by its own running RMS,
so there float noise becomes a step of up to lr: any change of summation order (2 ranks, other thread
counts) moves them by up to steps × lr without changing any output. Those are compared against that bound;
every other weight at rtol 1e-4 / atol 1e-5. The embeddings (what the weights compute) agree to 1e-4 of
their scale (max |Δz| <= 1e-4 · max |z| + 1e-5; element-wise rtol is meaningless for z near 0).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mixrep.pretrain.cli import pretrain_main
from mixrep.pretrain.config import PretrainSettings, build_model
from mixrep.model.losses import info_nce
from mixrep.pretrain.data import gather_segments, prepare_items, sample_pair_starts
from mixrep.pretrain.distributed import Ranks, dropout_seed, launch
from mixrep.pretrain.embed import encode_segments, to_device
from mixrep.pretrain.mels import MelStore
from fixtures.toy_corpus import make_toy_corpus
from mixrep.pretrain.train import RESUME_NAME, input_stats, train_encoder
from mixrep.runs import FAMILIES

TINY = {"preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2,
                                               "patch_frames": 8, "dropout": 0.0}},
        "segment_frames": 24, "batch_size": 4, "group_size": 2, "epochs": 2, "warmup_steps": 2,
        "cond_hidden": 16, "checkpoint_every": 2, "lr": 3e-3}
# 15 training items: batch 4 -> 3 steps per epoch (2 + 2 items per rank); batch 3 -> 5 steps (2 + 1 items).
JOBS = {"even": ("film-all", {}), "uneven": ("xattn-no_stereo", {"batch_size": 3, "group_size": 1, "epochs": 1}),
        "resumed": ("film-all", {})}
RTOL, ATOL = 1e-4, 1e-5
NOISE_SHARE = 1e-3  # at most this share of the other weights may sit at Adam's noise floor


def key_bias(name: str, value: torch.Tensor) -> torch.Tensor:
    """Mask of the elements of `name` that are attention key biases (gradient identically zero)."""
    mask = torch.zeros_like(value, dtype=torch.bool)
    if name.endswith("in_proj_bias"):
        width = value.shape[0] // 3
        mask[width:2 * width] = True
    return mask


def largest(values: torch.Tensor) -> float:
    return float(values.max()) if values.numel() else 0.0


def compare_weights(got: dict, expected: dict, steps: int, lr: float) -> dict[str, float]:
    """Assert the module docstring's weight criterion; return the measured gaps."""
    floor = steps * lr
    strict_gap = noise_gap = 0.0
    loose = total = 0
    for key, value in expected.items():
        if not value.is_floating_point():
            assert torch.equal(got[key], value), key
            continue
        gap = (got[key] - value).abs()
        noise = key_bias(key, value)
        assert largest(gap[noise]) <= floor, key
        close = gap <= ATOL + RTOL * value.abs()
        outside = ~close & ~noise
        assert largest(gap[outside]) <= floor, key
        loose += int(outside.sum())
        total += int((~noise).sum())
        strict_gap = max(strict_gap, largest(gap[close & ~noise]))
        noise_gap = max(noise_gap, largest(gap[~close | noise]))
    assert loose <= NOISE_SHARE * total, (loose, total)
    return {"max_weight_diff_within_tol": strict_gap, "elements_at_noise_floor": loose, "elements": total,
            "max_noise_floor_diff": noise_gap}


def embeddings(run: str, state: dict, stats, bank, items) -> torch.Tensor:
    """z of every val item's first window under the weights `state`."""
    model = build_model(run, settings({}), stats.dims, 0)
    model.load_state_dict(state)
    val = items.of_split("val")
    positions = np.arange(len(val))
    return torch.from_numpy(encode_segments(model, bank, val, positions, np.zeros(len(val), dtype=np.int64), 24,
                                            torch.device("cpu")))


def settings(overrides: dict) -> PretrainSettings:
    return PretrainSettings.from_config({"pretrain": {**TINY, **overrides}})


class Killed(RuntimeError):
    pass


def first_step_gradients(ranks: Ranks, bank, items, stats) -> tuple[dict, dict]:
    """Gradients of one global batch of 4 items: this rank's DDP model vs a 1-process copy on the same rank.

    Adam (and clipping) hide a wrong gradient scale, so the scale is checked here, before any optimiser.
    """
    cpu = torch.device("cpu")
    train = items.of_split("train")
    model = build_model("film-all", settings({}), stats.dims, 7)
    model.set_input_stats(*input_stats(bank, train))
    reference = copy.deepcopy(model)
    pos = np.arange(4)
    first, second = sample_pair_starts(train.num_frames[pos], 24, np.random.default_rng(0))

    def loss_of(net, rows: slice, gather) -> None:
        p, a, b = pos[rows], first[rows], second[rows]
        mels = gather_segments(bank, np.concatenate([train.mel_index[p]] * 2), np.concatenate([a, b]), 24)
        z = net(mels, to_device(train.features, np.concatenate([p, p]), cpu))
        anchors, positives = gather(z)
        info_nce(anchors, positives, 0.1).backward()

    loss_of(reference, slice(0, 4), lambda z: (z[:4], z[4:]))
    loss_of(ranks.wrap(model, cpu), ranks.rows(4), lambda z: ranks.gather_views(z, 4))
    return ({k: v.grad.clone() for k, v in model.named_parameters()},
            {k: v.grad.clone() for k, v in reference.named_parameters()})


def _worker(ranks: Ranks, local_rank: int, init_method: str, paths: list[str], corpus_tables: tuple,
            root: str) -> None:
    """One rank: the three jobs in turn; rank r leaves its results in rank{r}.pt."""
    from mixrep.pretrain import distributed

    torch.set_num_threads(1)
    distributed.init(ranks, torch.device("cpu"), init_method)
    try:
        features, manifest = corpus_tables
        bank = MelStore(paths)
        items, stats = prepare_items(bank, features, manifest, FAMILIES, 24)
        out: dict[str, dict] = {"gradients": first_step_gradients(ranks, bank, items, stats)}
        for name, (run, overrides) in JOBS.items():
            messages: list[str] = []
            result = train_encoder(run, 7, bank, items, stats, settings(overrides), Path(root) / name,
                                   torch.device("cpu"), log_print=messages.append, ranks=ranks)
            out[name] = {"losses": result.step_losses, "state": result.model.state_dict(),
                         "resumed_from": result.resumed_from, "messages": messages, "log": result.log}
        torch.save(out, Path(root) / f"rank{ranks.rank}.pt")
    finally:
        distributed.close()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    corpus = make_toy_corpus(n_tracks=8, n_variants=3, seconds=0.6, seed=2)
    paths = [str(corpus.bank.save(root / "shard-000.npz"))]
    return root, corpus, paths


def test_bounds_cover_the_batch_in_order() -> None:
    for batch, world in ((4, 2), (3, 2), (24, 5), (7, 7)):
        bounds = Ranks(0, world).bounds(batch)
        assert bounds[0][0] == 0 and bounds[-1][1] == batch
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        sizes = [hi - lo for lo, hi in bounds]
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    with pytest.raises(ValueError, match="smaller than the 3 processes"):
        Ranks(0, 3).bounds(2)
    assert dropout_seed(5, 0) == 6 and len({dropout_seed(5, r) for r in range(4)}) == 4


def test_two_processes_train_what_one_process_trains(toy) -> None:
    root, corpus, paths = toy
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    bank = MelStore(paths)
    items, stats = prepare_items(bank, corpus.features, corpus.manifest, FAMILIES, 24)
    single = {name: train_encoder(run, 7, bank, items, stats, settings(overrides), root / "one" / name, cpu,
                                  log_print=lambda _: None)
              for name, (run, overrides) in JOBS.items() if name != "resumed"}

    def kill_at_3(step: int, loss: float) -> None:
        if step == 3:  # after the checkpoint of step 2
            raise Killed

    with pytest.raises(Killed):  # the 2-rank "resumed" job starts from this 1-process checkpoint
        train_encoder("film-all", 7, bank, items, stats, settings({}), root / "resumed", cpu,
                      on_step=kill_at_3, log_print=lambda _: None)

    launch(_worker, 2, paths, (corpus.features, corpus.manifest), str(root))
    ranks = [torch.load(root / f"rank{r}.pt", weights_only=False) for r in range(2)]

    report = {}
    for name, expected_name in (("even", "even"), ("uneven", "uneven"), ("resumed", "even")):
        expected = single[expected_name]
        for r, got in enumerate(ranks):
            job = got[name]
            skip = 2 if name == "resumed" else 0  # losses before the resume come from the checkpoint
            np.testing.assert_allclose(job["losses"][skip:], expected.step_losses[skip:], rtol=RTOL, atol=ATOL)
            assert len(job["losses"]) == len(expected.step_losses)
            run, overrides = JOBS[name]
            gaps = compare_weights(job["state"], expected.model.state_dict(), len(expected.step_losses),
                                   settings(overrides).lr)
            z_got = embeddings(run, job["state"], stats, bank, items)
            z_expected = embeddings(run, expected.model.state_dict(), stats, bank, items)
            z_gap = float((z_got - z_expected).abs().max())
            assert z_gap <= RTOL * float(z_expected.abs().max()) + ATOL, (name, z_gap)
            loss_gap = float(np.max(np.abs(np.subtract(job["losses"], expected.step_losses))))
            report[f"{name} rank{r}"] = {"max_loss_diff": loss_gap, **gaps,
                                         "max_embedding_diff": z_gap, "max_abs_embedding": float(z_expected.abs().max())}
        # both ranks hold the same model; only rank 0 reports and validates
        for key, value in ranks[0][name]["state"].items():
            assert torch.equal(ranks[1][name]["state"][key], value), key
        assert ranks[1][name]["messages"] == [] and ranks[0][name]["messages"]
        assert "val_top1" in ranks[0][name]["log"][-1] and "val_top1" not in ranks[1][name]["log"][-1]
    for r, got in enumerate(ranks):
        distributed_grads, single_grads = got["gradients"]
        for key, value in single_grads.items():
            torch.testing.assert_close(distributed_grads[key], value, rtol=RTOL, atol=1e-6, msg=f"rank {r} {key}")
        report[f"gradient rank{r}"] = max(largest((distributed_grads[k] - v).abs()) for k, v in single_grads.items())
    assert ranks[0]["resumed"]["resumed_from"] == 2 == ranks[1]["resumed"]["resumed_from"]
    assert ranks[0]["even"]["resumed_from"] == 0
    state = torch.load(root / "even" / RESUME_NAME, weights_only=False)  # written by rank 0
    assert len(state["torch_rng_ranks"]) == 2 and state["step"] == len(single["even"].step_losses)
    print(json.dumps(report))  # the measured gaps (pytest -s shows them)


def test_cli_with_two_processes_writes_the_outputs_of_one(toy) -> None:
    root, corpus, paths = toy
    corpus.features.to_parquet(root / "features.parquet")
    corpus.manifest.to_parquet(root / "manifest.parquet")
    outputs = {}
    for nproc in (1, 2):
        out = root / "cli" / f"nproc{nproc}"
        code = pretrain_main(["--mels", *paths, "--features", str(root / "features.parquet"),
                              "--manifest", str(root / "manifest.parquet"), "--run", "prepend-all", "--seed", "3",
                              "--checkpoint", str(out / "encoder.pt"), "--log-csv", str(out / "log.csv"),
                              "--plot", str(out / "loss.png"), "--metrics", str(out / "metrics.json"),
                              "--nproc", str(nproc), "--threads", str(nproc), "--device", "cpu",
                              "--settings", json.dumps({"seed": 0, "pretrain": TINY})])
        assert code == 0
        outputs[nproc] = out
    one, two = outputs[1], outputs[2]
    assert sorted(p.name for p in two.iterdir()) == ["encoder.pt", "log.csv", "loss.png", "metrics.json"]
    metrics = [json.loads((o / "metrics.json").read_text()) for o in (one, two)]
    assert metrics[1]["settings"]["processes"] == 2 and metrics[0]["settings"]["processes"] == 1
    assert metrics[1]["final_loss"] == pytest.approx(metrics[0]["final_loss"], rel=RTOL, abs=ATOL)
    weights = [torch.load(o / "encoder.pt", weights_only=False)["state_dict"] for o in (one, two)]
    compare_weights(weights[1], weights[0], metrics[0]["steps"], TINY["lr"])


def test_a_batch_smaller_than_the_processes_is_refused_in_one_line(toy, capsys) -> None:
    root, _, paths = toy
    with pytest.raises(SystemExit) as exit_info:
        pretrain_main(["--mels", *paths, "--features", "f.parquet", "--manifest", "m.parquet", "--run", "film-all",
                       "--seed", "0", "--checkpoint", str(root / "x" / "encoder.pt"), "--log-csv", "l.csv",
                       "--plot", "p.png", "--metrics", "m.json", "--nproc", "5",
                       "--settings", json.dumps({"seed": 0, "pretrain": TINY})])
    message = str(exit_info.value.code)
    assert message == "pretrain: batch_size 4 is smaller than the 5 processes: every process needs an item"
    assert not (root / "x").exists()
