"""`mixrep analyse`: one pass per shard, every variant rendered once, per-segment features of the exact view audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import mixrep.analyse.shard as analyse_shard_module
from mixrep.analyse import read_stems_excerpt, view_windows
from mixrep.analyse.cli import main
from mixrep.analyse.outputs import read_segment_table
from mixrep.audio import read_stems, write_stems
from mixrep.degrade.cli import main as degrade_main
from mixrep.features import extract_features, feature_columns
from mixrep.features.cli import main as features_main
from mixrep.features.extract import undefined_columns
from mixrep.model.frontend import MelSettings, MelFrontend
from mixrep.pretrain.cli import mels_main
from mixrep.pretrain.mels import MelStore, load_mel_shard
from mixrep.signal.excerpt import centred_excerpt, excerpt_bounds
from mixrep.stems import SAMPLE_RATE

SETTINGS = {"seed": 3, "shard_size": 4, "features": {"n_mels": 32},
            "degrade": {"variants_per_track": 2},
            "pretrain": {"mel_max_s": 1.0, "segment_frames": 32}, "analysis": {"excerpt_s": 2.0}}
TRACKS = ("syn-pop-0", "syn-rock-0")


def _shard(root: Path, seconds: float = 2.0) -> Path:
    rows = []
    for k, track_id in enumerate(TRACKS):
        rng = np.random.default_rng(k)
        stems = (0.05 * rng.standard_normal((4, 2, int(seconds * SAMPLE_RATE)))).astype(np.float32)
        stem_dir = root / "stems" / track_id
        write_stems(stem_dir, stems)
        rows.append({"track_id": track_id, "stem_dir": str(stem_dir), "method": "oracle",
                     "num_samples": stems.shape[-1]})
    index = root / "stems" / "index.parquet"
    pd.DataFrame(rows).to_parquet(index, index=False)
    return index


def _analyse(root: Path, index: Path, settings: dict = SETTINGS) -> dict[str, Path]:
    out = {"recipes": root / "variants/recipes.parquet", "rejected": root / "variants/rejected.csv",
           "features": root / "features/shard.parquet", "features-rejected": root / "features/shard.rejected.csv",
           "segments": root / "features/segments/shard.parquet", "mels": root / "mels/shard.npz"}
    argv = ["--stems", str(index), "--settings", json.dumps(settings)]
    for name, path in out.items():
        argv += [f"--{name}", str(path)]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("analyse")
    index = _shard(root)
    return root, index, _analyse(root, index)


def test_every_variant_is_rendered_once(tmp_path, monkeypatch, capsys):
    index = _shard(tmp_path)
    calls = []
    real = analyse_shard_module.render_track_variants

    def counting(*args, **kwargs):
        for row, rendered in real(*args, **kwargs):
            calls.append((row.track_id, row.variant_id))
            yield row, rendered

    monkeypatch.setattr(analyse_shard_module, "render_track_variants", counting)
    import mixrep.degrade.shard as degrade_shard_module
    chain_calls = []
    real_chain = degrade_shard_module.render_chain
    monkeypatch.setattr("mixrep.degrade.shard.render_chain",
                        lambda *a, **k: chain_calls.append(1) or real_chain(*a, **k))
    out = _analyse(tmp_path, index)
    recipes = pd.read_parquet(out["recipes"])
    variants = list(zip(recipes["track_id"], recipes["variant_id"]))
    assert sorted(calls) == sorted(variants) and len(set(calls)) == len(calls) == len(TRACKS) * 3
    assert len(chain_calls) == len(variants)  # one render_chain call per variant, no other render
    log = capsys.readouterr().err
    assert f"{len(variants)} variants, {len(variants)} renders" in log


def test_outputs_equal_the_old_three_pass_path(analysed, tmp_path):
    """Recipes, whole-variant features and the Mel store equal what degrade + features + mels wrote."""
    root, index, out = analysed
    settings = json.dumps(SETTINGS | {"analysis": {}})
    old = {"recipes": tmp_path / "recipes.parquet", "features": tmp_path / "f.parquet", "mels": tmp_path / "m.npz"}
    assert degrade_main(["--stems", str(index), "--out", str(old["recipes"]), "--settings", settings]) == 0
    assert features_main(["--stems", str(index), "--recipes", str(old["recipes"]), "--out", str(old["features"]),
                          "--settings", settings]) == 0
    assert mels_main(["--stems-index", str(index), "--recipes", str(old["recipes"]), "--out", str(old["mels"]),
                      "--settings", settings]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out["recipes"]), pd.read_parquet(old["recipes"]))
    assert out["features"].read_bytes() == old["features"].read_bytes()
    new_mels, old_mels = load_mel_shard(out["mels"]), load_mel_shard(old["mels"])
    assert np.array_equal(new_mels.mels, old_mels.mels) and np.array_equal(new_mels.offsets, old_mels.offsets)
    assert new_mels.track_id.tolist() == old_mels.track_id.tolist() and new_mels.max_s == old_mels.max_s


def test_segment_features_are_those_of_the_view_audio(analysed):
    """Each segment row = extract_features of exactly the samples that produce its Mel frames."""
    from mixrep.degrade import render_variant

    root, index, out = analysed
    segments = read_segment_table(out["segments"])
    recipes = pd.read_parquet(out["recipes"])
    store = MelStore([out["mels"]])
    config = MelSettings(**{**store.mel_config.to_dict()})
    frontend = MelFrontend(config)
    checked = 0
    for k, (track_id, variant_id) in enumerate(zip(store.track_id, store.variant_id)):
        if variant_id != 1:
            continue
        effects = recipes[(recipes.track_id == track_id) & (recipes.variant_id == variant_id)]["effects"].iloc[0]
        stems = render_variant(read_stems(Path(root) / "stems" / track_id), effects)
        crop = centred_excerpt(stems, SAMPLE_RATE)
        rows = segments[(segments.track_id == track_id) & (segments.variant_id == variant_id)]
        windows = view_windows(crop.shape[-1], 32, config.hop_length, config.n_fft)
        assert len(rows) == len(windows) >= 2
        for window, row in zip(windows, rows.itertuples(index=False)):
            assert (row.segment, row.frame_start, row.sample_start, row.sample_stop) == (
                window.segment, window.frame_start, window.sample_start, window.sample_stop)
            view = crop[..., window.sample_start:window.sample_stop]
            expected = extract_features(view, SAMPLE_RATE, SETTINGS["features"])
            undefined = set(undefined_columns(view.shape[-1], SAMPLE_RATE))
            assert undefined  # 0.19 s views: short-term and integrated loudness are undefined
            values = rows[rows.segment == window.segment].iloc[0]
            for name in feature_columns():
                if name in undefined:
                    assert np.isnan(values[name]), name
                else:
                    assert values[name] == np.float32(expected[name]), name
            # the view's samples reproduce the Mel frames the store holds for this window
            with torch.inference_mode():
                local = frontend(torch.from_numpy(np.ascontiguousarray(view))[None])[0].numpy()
            stored = store.item(k)[..., window.frame_start:window.frame_start + 32].astype(np.float32)
            lo = 0 if window.frame_start == 0 else 2  # frames whose STFT window is whole inside the view
            first = window.frame_start * config.hop_length - window.sample_start
            assert first % config.hop_length == 0
            offset = first // config.hop_length
            inner = slice(lo, 30)
            np.testing.assert_allclose(local[..., offset + inner.start:offset + inner.stop].astype(np.float16),
                                       stored[..., inner], atol=0.05)
            checked += 1
    assert checked >= 4


@pytest.mark.parametrize("stem_format", ["float32", "flac24"])
def test_excerpt_reading_equals_slicing_the_whole_file(tmp_path, stem_format):
    rng = np.random.default_rng(0)
    stems = rng.standard_normal((4, 2, 5 * SAMPLE_RATE + 7)).astype(np.float32)  # peaks > 1: flac24 gains
    write_stems(tmp_path, stems, stem_format=stem_format)
    for excerpt_s in (None, 1.5, 2.0, 100.0):
        start, stop = excerpt_bounds(stems.shape[-1], None if excerpt_s is None else int(round(excerpt_s * SAMPLE_RATE)))
        got = read_stems_excerpt(tmp_path, excerpt_s)
        assert np.array_equal(got, read_stems(tmp_path)[..., start:stop])
        assert got.shape[-1] == min(stems.shape[-1], stems.shape[-1] if excerpt_s is None else
                                    int(round(excerpt_s * SAMPLE_RATE)))
    assert excerpt_bounds(10, 4) == (3, 7)


def test_a_track_with_unreadable_stems_is_rejected_everywhere(tmp_path):
    index = _shard(tmp_path)
    (tmp_path / "stems" / TRACKS[0] / "bass.wav").unlink()
    out = _analyse(tmp_path, index)
    for name in ("recipes", "features"):
        assert set(pd.read_parquet(out[name])["track_id"]) == {TRACKS[1]}
    assert set(read_segment_table(out["segments"])["track_id"]) == {TRACKS[1]}
    assert set(MelStore([out["mels"]]).track_id) == {TRACKS[1]}
    assert pd.read_csv(out["rejected"])["track_id"].tolist() == [TRACKS[0]]
