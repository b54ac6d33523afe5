"""Checkpoint layouts: published, `module.` prefix, plain state dict, mixrep's own; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mixrep.separation.checkpoint import CheckpointError, load_separator, save_checkpoint
from mixrep.separation.scnet import SCNet

TINY = {"dims": [4, 8, 16, 32], "nfft": 1024, "hop_size": 256, "win_size": 1024, "conv_depths": [1, 1, 1],
        "num_dplayer": 2}


@pytest.fixture
def tiny() -> SCNet:
    torch.manual_seed(0)
    return SCNet(**TINY)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_published_layout_with_module_prefix(tiny: SCNet, tmp_path: Path) -> None:
    path = tmp_path / "published.th"
    state = {f"module.{k}": v for k, v in tiny.state_dict().items()}
    torch.save({"state": state, "best_state": state, "best_nsdr": 7.5, "epoch": 3}, path)
    loaded = load_separator(path, TINY)
    assert loaded.layout == "published"
    assert same_weights(loaded.model, tiny)
    assert not loaded.model.training


def test_plain_state_dict(tiny: SCNet, tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.save(tiny.state_dict(), path)
    loaded = load_separator(path, TINY)
    assert loaded.layout == "state_dict" and same_weights(loaded.model, tiny)


def test_golden_checkpoint_loads_in_published_layout(reference_dir: Path, tmp_path: Path) -> None:
    golden = torch.load(reference_dir / "scnet_tiny_golden.pt", map_location="cpu", weights_only=True)
    path = tmp_path / "golden.th"
    torch.save({"best_state": golden["best_state"]}, path)
    loaded = load_separator(path, golden["config"])
    with torch.no_grad():
        out = loaded.model(golden["input"])
    assert torch.allclose(out, golden["output"], atol=1e-4 * golden["output"].abs().max())


def test_own_checkpoint_describes_itself(tiny: SCNet, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "own.th", tiny, TINY, {"best_step": 5})
    loaded = load_separator(path)  # no kwargs needed
    assert loaded.layout == "mixrep" and loaded.kwargs == TINY and loaded.info == {"best_step": 5}
    assert loaded.sources == ["drums", "bass", "other", "vocals"]
    assert same_weights(loaded.model, tiny)
    raw = torch.load(path, weights_only=True)
    assert raw["class"] == "SCNet" and set(raw["best_state"]) == set(tiny.state_dict())


def test_wrong_key_names_file_and_key(tiny: SCNet, tmp_path: Path) -> None:
    state = dict(tiny.state_dict())
    state["encoder.0.globalconv.weigth"] = state.pop("encoder.0.globalconv.weight")
    path = tmp_path / "typo.th"
    torch.save({"best_state": state}, path)
    with pytest.raises(CheckpointError) as info:
        load_separator(path, TINY)
    message = str(info.value)
    assert str(path) in message and "encoder.0.globalconv.weig" in message


def test_wrong_config_names_first_shape_mismatch(tiny: SCNet, tmp_path: Path) -> None:
    path = tmp_path / "tiny.th"
    torch.save({"best_state": tiny.state_dict()}, path)
    with pytest.raises(CheckpointError, match=r"first mismatching key 'decoder\.0\.0\.conv\.bias': shape"):
        load_separator(path, {**TINY, "dims": [4, 8, 16, 48]})


def test_truncated_and_foreign_files(tiny: SCNet, tmp_path: Path) -> None:
    good = save_checkpoint(tmp_path / "good.th", tiny, TINY)
    truncated = tmp_path / "truncated.th"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.th: not a torch checkpoint or truncated"):
        load_separator(truncated)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        load_separator(text)
    with pytest.raises(CheckpointError, match="no such file"):
        load_separator(tmp_path / "absent.th")
    listing = tmp_path / "list.th"
    torch.save([1, 2], listing)
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_separator(listing, TINY)


def test_published_layout_needs_a_model_description(tiny: SCNet, tmp_path: Path) -> None:
    path = tmp_path / "bare.th"
    torch.save({"best_state": tiny.state_dict()}, path)
    with pytest.raises(CheckpointError, match="carries no model description"):
        load_separator(path)


class Opaque:
    """An arbitrary Python object: a checkpoint holding one must not be unpickled."""


def test_arbitrary_objects_are_refused(tiny: SCNet, tmp_path: Path) -> None:
    path = tmp_path / "objects.th"
    torch.save({"best_state": tiny.state_dict(), "args": Opaque()}, path)
    with pytest.raises(CheckpointError, match="objects.th: holds Python objects beyond tensors"):
        load_separator(path, TINY)
