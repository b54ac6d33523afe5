"""The shared loader of mixrep's tagged torch files: the right dict back, or an error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mixrep.torchfiles import load_tagged


def test_round_trip_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    torch.save({"format": "demo/1", "weights": torch.arange(3)}, good)
    data = load_tagged(good, "demo/1", "demo checkpoint")
    assert torch.equal(data["weights"], torch.arange(3))

    with pytest.raises(FileNotFoundError, match="missing.pt: demo checkpoint not found"):
        load_tagged(tmp_path / "missing.pt", "demo/1", "demo checkpoint")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ValueError, match="garbage.pt: not a readable torch checkpoint"):
        load_tagged(garbage, "demo/1", "demo checkpoint")
    with pytest.raises(ValueError, match=r"good.pt: not a demo checkpoint \(expected format 'demo/2'\)"):
        load_tagged(good, "demo/2", "demo checkpoint")
