"""V-measure and adjusted Rand index against values computed by hand from the definitions."""

from __future__ import annotations

import math

import pytest

from bench.clustering_scores import adjusted_rand_index, contingency, v_measure

pytestmark = pytest.mark.unit


def test_identical_partitions_score_one_whatever_the_names() -> None:
    assert v_measure([0, 0, 1, 1], ["b", "b", "a", "a"]) == (1.0, 1.0, 1.0)
    assert adjusted_rand_index([0, 0, 1, 1], ["b", "b", "a", "a"]) == 1.0


def test_split_class_is_homogeneous_but_incomplete() -> None:
    # classes [0,0,1,1], clusters [0,0,1,2]: H(C|K) = 0 -> h = 1; H(K) = 1.5 ln 2, H(K|C) = 0.5 ln 2 -> c = 2/3
    h, c, v = v_measure([0, 0, 1, 1], [0, 0, 1, 2])
    assert h == pytest.approx(1.0)
    assert c == pytest.approx(2 / 3)
    assert v == pytest.approx(0.8)


def test_ari_by_hand() -> None:
    # classes [0,0,1,1], clusters [0,0,1,2]: index = C(2,2) = 1; a = 1 + 1 = 2; b = 1 + 0 + 0 = 1; C(4,2) = 6
    # expected = 2 * 1 / 6 = 1/3; max = 1.5; ARI = (1 - 1/3) / (1.5 - 1/3) = 4/7
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    # classes [0,0,0,1,1,1], clusters [0,0,1,1,2,2]: index = 2; a = 3 + 3 = 6; b = 3; expected = 18/15;
    # max = 4.5; ARI = (2 - 1.2) / (4.5 - 1.2) = 0.8 / 3.3
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.8 / 3.3)


def test_independent_partition_scores_zero() -> None:
    h, c, v = v_measure([0, 0, 1, 1], [0, 1, 0, 1])
    assert (h, c, v) == (pytest.approx(0.0), pytest.approx(0.0), pytest.approx(0.0))
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)  # index 0, a = b = 2, expected 4/6, max 2


def test_one_cluster_for_everything() -> None:
    h, c, v = v_measure([0, 0, 1, 1], [7, 7, 7, 7])
    assert h == pytest.approx(0.0) and c == 1.0 and v == pytest.approx(0.0)
    assert adjusted_rand_index([0, 0, 1, 1], [7, 7, 7, 7]) == pytest.approx(0.0)


def test_contingency_and_lengths() -> None:
    assert contingency(["x", "y", "x"], [1, 1, 2]).tolist() == [[1, 1], [1, 0]]
    with pytest.raises(ValueError):
        v_measure([0], [0, 1])
    assert not math.isnan(v_measure([0, 1, 2], [0, 0, 0])[2])
