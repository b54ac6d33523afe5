"""The one centred excerpt (mixrep.signal.excerpt): rounding and edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from mixrep.signal.excerpt import centred_excerpt, excerpt_bounds, excerpt_samples


@pytest.mark.parametrize(("n", "length", "bounds"), [
    (10, 4, (3, 7)), (11, 4, (3, 7)), (10, 3, (3, 6)), (10, 10, (0, 10)), (10, 12, (0, 10)),
    (10, None, (0, 10)), (0, 4, (0, 0)), (10, 0, (5, 5)), (1, 1, (0, 1))])
def test_bounds(n: int, length: int | None, bounds: tuple[int, int]) -> None:
    assert excerpt_bounds(n, length) == bounds


def test_seconds_round_to_the_nearest_sample() -> None:
    assert excerpt_samples(None, 44100) is None
    assert excerpt_samples(6.0, 44100) == 264600
    assert excerpt_samples(2.3, 44100) == 101430  # 2.3 * 44100 = 101429.99999999999
    assert excerpt_samples(0.5, 44100) == 22050


def test_centred_excerpt_is_a_view_of_the_middle() -> None:
    x = np.arange(40).reshape(4, 10)
    out = centred_excerpt(x, 4)
    assert out.tolist() == x[:, 3:7].tolist() and np.shares_memory(out, x)
    assert centred_excerpt(x, None).shape == x.shape
