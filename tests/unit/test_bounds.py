"""Clopper–Pearson bounds: known values, the no-root-finding checks agree with the bounds, sample sizes."""

from __future__ import annotations

import numpy as np
import pytest

from services.enrich.bounds import lower_at_least, lower_bound, smallest_sample, upper_at_most, upper_bound

pytestmark = pytest.mark.unit


def test_known_values() -> None:
    assert upper_bound(0, 29) == pytest.approx(1 - 0.05 ** (1 / 29), abs=1e-9)  # zero events: closed form
    assert upper_bound(2, 100) == pytest.approx(0.0616, abs=5e-4)  # one-sided 95%
    assert lower_bound(98, 100) == pytest.approx(1 - upper_bound(2, 100), abs=1e-12)
    assert upper_bound(5, 5) == 1.0 and lower_bound(0, 5) == 0.0 and upper_bound(0, 0) == 1.0
    assert upper_bound(2, 100, 0.99) > upper_bound(2, 100, 0.95) > 0.02


@pytest.mark.parametrize("n", [7, 40, 300])
def test_vector_checks_agree_with_the_bounds(n: int) -> None:
    events = np.arange(n + 1)
    for share in (0.05, 0.1, 0.3):
        fast = upper_at_most(events, n, share, 0.95)
        slow = np.array([upper_bound(int(k), n) <= share for k in events])
        assert (fast == slow).all()
        fast = lower_at_least(events, np.full(n + 1, n), 1 - share, 0.95)
        slow = np.array([lower_bound(int(k), n) >= 1 - share for k in events])
        assert (fast == slow).all()


def test_smallest_sample() -> None:
    assert smallest_sample(0.10, 0.95) == 29  # zero false answers in 29 null lines proves <= 10%
    assert smallest_sample(0.90, 0.95, 1.0, upper=False) == 29  # 29 of 29 right proves precision >= 90%
    assert smallest_sample(0.10, 0.95, 0.05) > 29 * 2  # a few slipping through needs many more lines
    assert smallest_sample(0.10, 0.95, 0.10) is None  # an observed rate at the bound never proves it
