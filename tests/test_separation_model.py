"""SCNet against the official model: state-dict layout of the published configs and a golden forward pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mixrep.separation.scnet import LARGE_KWARGS, SMALL_KWARGS, SCNet

PARAMETERS = {"small": 10_578_768, "large": 42_181_232}


def reference_layout(path: Path) -> dict[str, tuple[int, ...]]:
    lines = path.read_text().splitlines()
    assert lines[0] == "name\tshape"
    return {name: tuple(int(d) for d in shape.split("x")) for name, shape in (line.split("\t") for line in lines[1:])}


@pytest.mark.parametrize("preset,kwargs", [("small", SMALL_KWARGS), ("large", LARGE_KWARGS)])
def test_state_dict_equals_published(preset: str, kwargs: dict, reference_dir: Path) -> None:
    expected = reference_layout(reference_dir / f"scnet_{preset}_state_dict.tsv")
    with torch.device("meta"):
        model = SCNet(**kwargs)
    ours = {name: tuple(value.shape) for name, value in model.state_dict().items()}
    assert set(ours) - set(expected) == set(), "names the published model does not have"
    assert set(expected) - set(ours) == set(), "published names missing here"
    assert ours == expected
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[preset]


def test_golden_forward(reference_dir: Path) -> None:
    golden = torch.load(reference_dir / "scnet_tiny_golden.pt", map_location="cpu", weights_only=True)
    model = SCNet(**golden["config"])
    model.load_state_dict(golden["best_state"], strict=True)
    model.eval()
    with torch.no_grad():
        output = model(golden["input"])
    assert output.shape == golden["output"].shape == (1, 4, 2, 66150)
    error = (output - golden["output"]).norm() / golden["output"].norm()
    assert error < 1e-4, f"relative error {error:.2e}"


@pytest.mark.parametrize("length", [129, 255, 256, 257, 1000, 4096])
def test_padding_gives_even_frame_count_and_keeps_length(length: int) -> None:
    model = SCNet(dims=[4, 8, 8, 8], nfft=256, hop_size=64, win_size=256, conv_depths=[1, 1, 1],
                  num_dplayer=2).eval()
    padding = model.padding_for(length)
    assert padding >= 1
    assert ((length + padding) // 64 + 1) % 2 == 0  # centred frames of the padded input
    with torch.no_grad():
        out = model(torch.randn(2, 2, length))
    assert out.shape == (2, 4, 2, length)


def test_bad_constructor_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="num_dplayer must be even"):
        SCNet(num_dplayer=3)
    with pytest.raises(ValueError, match="dims\\[0\\]"):
        SCNet(dims=[2, 8, 8])
    with pytest.raises(ValueError, match="too short"):
        SCNet(dims=[4, 8, 8, 8], nfft=256, hop_size=64, win_size=256)(torch.zeros(1, 2, 10))
    with pytest.raises(ValueError, match="audio channels"):
        SCNet(dims=[4, 8, 8, 8], nfft=256, hop_size=64, win_size=256)(torch.zeros(1, 1, 1000))
