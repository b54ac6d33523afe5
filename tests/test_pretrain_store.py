"""The streamed Mel store: segments read from disk equal the array written, and training/embedding on the
store equal training/embedding on the same Mels in memory (same draws, same results)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from mixrep.pretrain.config import PretrainSettings
from mixrep.pretrain.data import epoch_batches, gather_segments, prepare_items, sample_pair_starts
from mixrep.pretrain.embed import embed_items
from mixrep.pretrain.mels import MelShard, MelStore, load_mel_bank
from fixtures.toy_corpus import make_toy_corpus
from mixrep.pretrain.train import input_stats, train_encoder
from mixrep.runs import FAMILIES

TINY = {"preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2, "ff_mult": 2,
                                               "patch_frames": 8, "dropout": 0.1}},
        "segment_frames": 24, "batch_size": 4, "group_size": 2, "epochs": 2, "warmup_steps": 2,
        "cond_hidden": 16, "checkpoint_every": 100, "lr": 3e-3}


def split_shard(shard: MelShard, cut: int) -> list[MelShard]:
    """Items [0, cut) and [cut, K) of a shard as two shards."""
    parts = []
    for lo, hi in ((0, cut), (cut, len(shard))):
        a, b = shard.offsets[lo], shard.offsets[hi]
        parts.append(MelShard(shard.mels[..., a:b], shard.offsets[lo:hi + 1] - a, shard.track_id[lo:hi],
                              shard.variant_id[lo:hi], shard.mel_config, shard.max_s))
    return parts


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    corpus = make_toy_corpus(n_tracks=8, n_variants=3, seconds=0.6, seed=2)
    paths = [part.save(root / f"shard-{k:03d}.npz") for k, part in enumerate(split_shard(corpus.bank, 10))]
    return corpus, paths


def test_segments_from_the_store_equal_the_array_written(toy) -> None:
    corpus, paths = toy
    bank = corpus.bank
    with MelStore(paths) as store:
        assert len(store) == len(bank) and store.track_id.tolist() == bank.track_id.tolist()
        assert np.array_equal(store.offsets, bank.offsets) and store.mel_config == bank.mel_config
        for k in range(len(bank)):  # whole items, across both shards
            np.testing.assert_array_equal(store.item(k), bank.item(k))
        rng = np.random.default_rng(0)
        index = rng.integers(0, len(bank), size=40)
        starts = np.floor(rng.random(40) * (bank.num_frames[index] - 24 + 1)).astype(np.int64)
        from_disk = gather_segments(store, index, starts, 24)
        expected = np.stack([bank.item(k)[..., s:s + 24] for k, s in zip(index, starts)]).astype(np.float32)
        assert from_disk.dtype == torch.float32 and from_disk.is_contiguous()
        np.testing.assert_array_equal(from_disk.numpy(), expected)
        np.testing.assert_array_equal(gather_segments(bank, index, starts, 24).numpy(), expected)
        with pytest.raises(IndexError):
            store.segments(np.array([0]), np.array([int(bank.num_frames[0]) - 10]), 24)
    reloaded = load_mel_bank(paths)  # the in-memory reference reads the same layout
    np.testing.assert_array_equal(reloaded.mels, bank.mels)


def test_a_streaming_epoch_reads_every_training_item_once(toy) -> None:
    corpus, paths = toy
    with MelStore(paths) as store:
        items, _ = prepare_items(store, corpus.features, corpus.manifest, FAMILIES, 24)
        train = items.of_split("train")
        codes = np.unique(train.track_id, return_inverse=True)[1]
        batch_size = 3  # one batch per track's variants
        assert len(train) % batch_size == 0
        seen = []
        for epoch in range(2):
            batches = epoch_batches(codes, seed=7, epoch=epoch, batch_size=batch_size, group_size=3)
            positions = np.concatenate(list(batches))
            assert sorted(positions.tolist()) == list(range(len(train)))  # each item exactly once
            for index, pos in enumerate(batches):
                first, _ = sample_pair_starts(train.num_frames[pos], 24, np.random.default_rng([7, epoch, index]))
                segments = gather_segments(store, train.mel_index[pos], first, 24)
                for row, (k, s) in enumerate(zip(train.mel_index[pos], first)):
                    np.testing.assert_array_equal(segments[row].numpy(), corpus.bank.item(k)[..., s:s + 24])
            seen.append(positions)
        assert not np.array_equal(seen[0], seen[1])  # epochs reshuffle


def old_input_stats(bank: MelShard, items, stride: int = 8):
    """The former in-memory version (a float32 copy of every stride-th frame)."""
    frames = np.concatenate([np.arange(bank.offsets[k], bank.offsets[k + 1], stride) for k in items.mel_index])
    values = bank.mels[..., frames].astype(np.float32)
    return values.mean(axis=(0, 3)), values.std(axis=(0, 3))


def test_streamed_input_stats_match_the_in_memory_ones(toy) -> None:
    corpus, paths = toy
    items, _ = prepare_items(corpus.bank, corpus.features, corpus.manifest, FAMILIES, 24)
    train = items.of_split("train")
    mean, std = input_stats(corpus.bank, train)
    old_mean, old_std = old_input_stats(corpus.bank, train)
    np.testing.assert_allclose(mean.numpy(), old_mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std.numpy(), old_std, rtol=1e-5, atol=1e-6)
    with MelStore(paths) as store:
        disk_mean, disk_std = input_stats(store, train)
    assert torch.equal(disk_mean, mean) and torch.equal(disk_std, std)


def test_training_and_embedding_from_the_store_equal_in_memory(toy, tmp_path) -> None:
    corpus, paths = toy
    settings = PretrainSettings.from_config({"pretrain": TINY})
    cpu = torch.device("cpu")
    items, stats = prepare_items(corpus.bank, corpus.features, corpus.manifest, FAMILIES, 24)
    memory = train_encoder("film-all", 3, corpus.bank, items, stats, settings, tmp_path / "memory", cpu,
                           log_print=lambda _: None)
    with MelStore(paths) as store:
        disk_items, disk_stats = prepare_items(store, corpus.features, corpus.manifest, FAMILIES, 24)
        disk = train_encoder("film-all", 3, store, disk_items, disk_stats, settings, tmp_path / "disk", cpu,
                             log_print=lambda _: None)
        assert disk.step_losses == memory.step_losses and disk.log == [
            {**row, "seconds": d["seconds"]} for row, d in zip(memory.log, disk.log)]
        for name, value in memory.model.state_dict().items():
            assert torch.equal(value, disk.model.state_dict()[name]), name
        np.testing.assert_array_equal(embed_items(disk.model, store, disk_items, 24, cpu, batch_size=5),
                                      embed_items(memory.model, corpus.bank, items, 24, cpu, batch_size=5))


def test_old_layout_and_compressed_stores_are_named(toy, tmp_path) -> None:
    corpus, _ = toy
    bank = corpus.bank
    legacy = tmp_path / "shard-000.npz"
    np.savez(legacy, mels=bank.mels, offsets=bank.offsets, track_id=bank.track_id, variant_id=bank.variant_id,
             mel_config="{}", crop='{"max_s": null}')
    with pytest.raises(ValueError, match="shard-000.npz.*old layout.*mixrep mels"):
        MelStore([legacy])
    squeezed = tmp_path / "shard-001.npz"
    bank.save(squeezed)
    with zipfile.ZipFile(squeezed) as src, zipfile.ZipFile(tmp_path / "z.npz", "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    with pytest.raises(ValueError, match="z.npz.*compressed"):
        MelStore([tmp_path / "z.npz"])
