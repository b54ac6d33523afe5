"""InfoNCE against a hand-computed case, and its invariants."""

from __future__ import annotations

import math

import pytest
import torch

from mixrep.model.losses import info_nce


def test_hand_computed_two_pairs() -> None:
    # anchors a0=(1,0), a1=(0,1); positives p0=(1,0), p1=(1,1)/sqrt2 (unnormalised input (2,2)).
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    positives = torch.tensor([[3.0, 0.0], [2.0, 2.0]])
    tau = 0.5
    c = 1 / math.sqrt(2)
    # cosine similarities between the views v = [a0, a1, p0, p1]
    s = [[1, 0, 1, c], [0, 1, 0, c], [1, 0, 1, c], [c, c, c, 1]]
    positive_of = [2, 3, 0, 1]
    expected = 0.0
    for i in range(4):
        denom = sum(math.exp(s[i][j] / tau) for j in range(4) if j != i)
        expected += -(s[i][positive_of[i]] / tau - math.log(denom))
    expected /= 4
    assert info_nce(anchors, positives, tau).item() == pytest.approx(expected, rel=1e-6)


def test_scale_invariance_and_perfect_separation() -> None:
    z = torch.eye(4)
    loss = info_nce(z, 5 * z, temperature=0.1)
    # positive similarity 1, the 6 negatives 0: -log(e^10 / (e^10 + 6)) = log(1 + 6 e^-10)
    assert loss.item() == pytest.approx(math.log1p(6 * math.exp(-10)), rel=1e-3)
    assert info_nce(z, z.roll(1, dims=0), 0.1) > loss


def test_needs_two_items() -> None:
    with pytest.raises(ValueError):
        info_nce(torch.ones(1, 3), torch.ones(1, 3))
