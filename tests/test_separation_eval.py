"""eval-separation: museval-style SDR (equal to museval), silent stems and frames, sources without true stems,
and one-line errors for missing inputs of `mixrep separate` / `mixrep eval-separation`."""

from __future__ import annotations

import json
from pathlib import Path

import museval
import numpy as np
import pandas as pd
import pytest

from mixrep.audio import read_stems, write_audio, write_stems
from mixrep.cli import main
from mixrep.separation.metrics import (MUSEVAL_WINDOW, frame_slices, median_frames, museval_frames, museval_sources,
                                       sdr, sdr_v4_frames)
from mixrep.stems import STEMS
from test_separation_data import make_corpus

SR = 44100


def _museval(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """museval itself on (S, C, N) arrays."""
    out = museval.evaluate(np.transpose(reference, (0, 2, 1)), np.transpose(estimate, (0, 2, 1)),
                           win=SR, hop=SR, mode="v4")
    return np.asarray(out[0])


def test_v4_frames_equal_museval_with_silent_frame_and_short_estimate() -> None:
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((4, 2, 3 * SR + 700))  # 3 whole frames, a tail museval drops
    estimate = reference + 0.4 * rng.standard_normal(reference.shape)
    reference[2, :, SR:2 * SR] = 0.0  # drums silent in frame 1: museval sets that frame NaN for every stem
    estimate = estimate[..., :-900]  # shorter: zero-padded to the reference, as museval does
    ours, theirs = sdr_v4_frames(reference, estimate), _museval(reference, estimate)
    assert ours.shape == theirs.shape == (4, 3)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.isnan(ours[:, 1]).all() and not np.isnan(ours[:, [0, 2]]).any()
    np.testing.assert_allclose(ours[:, [0, 2]], theirs[:, [0, 2]], atol=1e-6)
    np.testing.assert_allclose(museval_frames(reference, estimate), theirs, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(median_frames(ours), np.nanmedian(theirs, axis=1), atol=1e-6)


def test_one_whole_track_window_is_the_whole_track_sdr_and_framing_is_museval_s() -> None:
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((4, 2, 5000))
    estimate = reference + rng.standard_normal(reference.shape)
    np.testing.assert_allclose(sdr_v4_frames(reference, estimate)[:, 0], sdr(reference, estimate), atol=1e-9)
    assert len(frame_slices(12 * SR)) == 12 and len(frame_slices(12 * SR + SR - 1)) == 12
    assert frame_slices(100) == [slice(0, 100)]
    assert np.isinf(sdr_v4_frames(reference, reference)).all()  # exact estimate: +inf, as museval's _safe_db


def test_museval_raises_on_a_silent_reference_stem_which_museval_sources_flags() -> None:
    rng = np.random.default_rng(2)
    reference = rng.standard_normal((4, 2, 2 * SR))
    reference[0] = 0.0
    estimate = reference + 0.1 * rng.standard_normal(reference.shape)
    with pytest.raises(ValueError, match="silent"):
        _museval(reference, estimate)
    assert list(museval_sources(reference, estimate)) == [False, True, True, True]
    assert median_frames(np.array([[np.nan, np.nan], [1.0, 3.0]]))[1] == 2.0
    assert np.isnan(median_frames(np.array([[np.nan, np.nan]]))[0])


def _separated_index(corpus: dict, root: Path, noise: float = 0.05) -> Path:
    """'Separated' stems = true stems + noise, written like `mixrep separate` does, and their index."""
    rng = np.random.default_rng(3)
    rows = []
    for row in corpus["frame"].itertuples():
        truth = read_stems(row.stems_dir)
        folder = root / "sep" / row.track_id
        write_stems(folder, (truth + noise * rng.standard_normal(truth.shape)).astype(np.float32))
        rows.append({"track_id": row.track_id, "stem_dir": str(folder), "method": "noisy",
                     "num_samples": truth.shape[-1], "status": "ok", "reason": ""})
    pd.DataFrame(rows).to_parquet(root / "index.parquet", index=False)
    return root / "index.parquet"


def test_eval_reports_museval_style_sdr_equal_to_museval_and_skips_silent_stems(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus", {"test": 2}, seconds=2.3)
    silent_track, gap_track = corpus["frame"]["stems_dir"]
    stems = read_stems(silent_track)
    stems[0] = 0.0  # no vocals in track 0 (as the corpus's vocal-less genres)
    write_stems(silent_track, stems)
    write_audio(Path(silent_track) / "mixture.wav", stems.sum(0))
    stems = read_stems(gap_track)
    stems[3, :, :SR] = 0.0  # 'other' silent in the first second of track 1: that frame is NaN
    write_stems(gap_track, stems)
    write_audio(Path(gap_track) / "mixture.wav", stems.sum(0))
    index = _separated_index(corpus, tmp_path)
    results = {}
    for flag in ([], ["--museval"]):
        out = tmp_path / f"eval{len(flag)}"
        assert main(["eval-separation", "--manifest", str(corpus["manifest"]), "--stems-index", str(index),
                     "--out-json", str(out / "eval.json"), "--out-md", str(out / "eval.md"), *flag]) == 0
        results[len(flag)] = json.loads((out / "eval.json").read_text())
    ours, theirs = results[0], results[1]
    # by hand with museval: per track the NaN-ignoring median of the frames, then the median over tracks
    per_track = []
    for row in corpus["frame"].itertuples():
        truth = read_stems(row.stems_dir)
        estimate = read_stems(tmp_path / "sep" / row.track_id)
        ok = museval_sources(truth, estimate)
        values = np.full(4, np.nan)
        values[ok] = np.nanmedian(_museval(truth[ok], estimate[ok]), axis=1)
        per_track.append(values)
    expected = np.nanmedian(np.array(per_track), axis=0)
    for result in (ours, theirs):
        table = result["sdr_museval"]["separated"]
        np.testing.assert_allclose([table["median"][name] for name in STEMS], expected, atol=1e-6)
        assert table["tracks"] == {"vocals": 1, "bass": 2, "drums": 2, "other": 2}
        assert table["mean_over_stems"] == pytest.approx(float(np.mean(expected)), abs=1e-6)
        assert result["sdr_museval"]["oracle"]["median"]["bass"] == "inf"  # exact stems, as museval: +inf
        skipped = result["museval_skipped"]
        assert skipped["count"] == 3  # the silent vocals of track 0, for separated, oracle and baseline
        assert {(s["system"], s["stem"]) for s in skipped["items"]} == {
            ("separated", "vocals"), ("oracle", "vocals"), ("baseline", "vocals")}
    assert "museval 0.4" in theirs["sdr_museval_source"] and "at most" in theirs["sdr_museval_source"]
    md = (tmp_path / "eval1" / "eval.md").read_text()
    assert "museval-style SDR" in md and "9.00 dB" in md and "Skipped 3 (track, stem) pairs" in md


def test_a_source_without_true_stems_gets_outputs_with_a_note_and_exit_0(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    corpus = make_corpus(tmp_path / "corpus", {"test": 2}, seconds=0.5)
    frame = corpus["frame"].copy()
    frame["stems_dir"] = None  # FMA, a folder of audio: mixtures only
    frame.to_parquet(corpus["manifest"], index=False)
    index = tmp_path / "index.parquet"
    pd.DataFrame({"track_id": frame["track_id"], "stem_dir": ["x", "y"], "method": "scnet", "num_samples": 1,
                  "status": "ok", "reason": ""}).to_parquet(index, index=False)
    out = tmp_path / "eval"
    assert main(["eval-separation", "--manifest", str(corpus["manifest"]), "--stems-index", str(index),
                 "--out-json", str(out / "eval.json"), "--out-md", str(out / "eval.md")]) == 0
    note = "no track of the test split has true stems: separation quality is not measured on this source"
    result = json.loads((out / "eval.json").read_text())
    assert result["note"] == note and result["num_tracks"] == 0 and len(result["skipped"]) == 2
    assert note in (out / "eval.md").read_text()
    assert "Traceback" not in capsys.readouterr().err


def test_true_stems_but_none_scored_is_still_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = make_corpus(tmp_path / "corpus", {"test": 2}, seconds=0.5)
    index = tmp_path / "index.parquet"
    pd.DataFrame({"track_id": corpus["frame"]["track_id"], "stem_dir": None, "method": "scnet", "num_samples": 0,
                  "status": "failed", "reason": "boom"}).to_parquet(index, index=False)
    out = tmp_path / "eval"
    rc = main(["eval-separation", "--manifest", str(corpus["manifest"]), "--stems-index", str(index),
               "--out-json", str(out / "eval.json"), "--out-md", str(out / "eval.md")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith(f"mixrep eval-separation: {corpus['manifest']}: 2 test-split tracks have true stems")
    assert not (out / "eval.json").exists()


def _one_line(capsys: pytest.CaptureFixture, rc: int, command: str, file: Path, problem: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert err[0].startswith(f"mixrep {command}: {file}: {problem}"), err


def test_missing_inputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = make_corpus(tmp_path / "corpus", {"test": 1}, seconds=0.5)
    missing = tmp_path / "nope"
    oracle = json.dumps({"seed": 0, "separation": {"method": "oracle"}})
    base = ["--shard", "shard-000", "--out", str(tmp_path / "s" / "index.parquet"), "--settings", oracle]
    rc = main(["separate", "--manifest", str(corpus["manifest"]), "--shards", str(missing / "shards.json"), *base])
    _one_line(capsys, rc, "separate", missing / "shards.json", "no such file")
    rc = main(["separate", "--manifest", str(missing / "m.parquet"), "--shards", str(corpus["shards"]), *base])
    _one_line(capsys, rc, "separate", missing / "m.parquet", "no such file")
    outs = ["--out-json", str(tmp_path / "e.json"), "--out-md", str(tmp_path / "e.md")]
    rc = main(["eval-separation", "--manifest", str(missing / "m.parquet"), "--stems-index",
               str(tmp_path / "index.parquet"), *outs])
    _one_line(capsys, rc, "eval-separation", missing / "m.parquet", "no such file")
    rc = main(["eval-separation", "--manifest", str(corpus["manifest"]), "--stems-index",
               str(missing / "index.parquet"), *outs])
    _one_line(capsys, rc, "eval-separation", missing / "index.parquet", "no such file")
    (tmp_path / "bad.json").write_text("{not json")
    rc = main(["separate", "--manifest", str(corpus["manifest"]), "--shards", str(tmp_path / "bad.json"), *base])
    _one_line(capsys, rc, "separate", tmp_path / "bad.json", "not a JSON shards table")
