"""Threshold selection: two bounds (precision on answerable, false answers on unanswerable), stricter wins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.enrich.calibration import operating_point, select_threshold

pytestmark = pytest.mark.unit


def test_precision_bound_alone() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    correct = [True, True, True, False, False]
    cal = select_threshold(scores, correct, [True] * 5, precision=0.75)
    # at 0.6: 3 of 4 correct = 0.75 holds; at 0.5: 3/5 fails
    assert cal.chosen.threshold == 0.6
    assert cal.chosen.precision == pytest.approx(0.75)
    assert cal.chosen.coverage == pytest.approx(0.8)
    assert cal.chosen.false_rate is None
    assert cal.feasible


def test_false_answer_bound_is_stricter() -> None:
    scores = [0.95, 0.9, 0.8, 0.7, 0.85, 0.75, 0.6, 0.5]
    answerable = [True, True, True, True, False, False, False, False]
    correct = [True, True, True, True, False, False, False, False]
    cal = select_threshold(scores, correct, answerable, precision=0.9, max_false=0.25)
    assert cal.precision_threshold == 0.5  # every answerable guess is right: answer all
    assert cal.false_threshold == 0.8  # 0.85 only: 1 of 4 unanswerable answered
    assert cal.chosen.threshold == 0.8
    assert cal.chosen.false_rate == pytest.approx(0.25)
    assert cal.chosen.coverage == pytest.approx(0.75)


def test_infeasible_answers_nothing() -> None:
    cal = select_threshold([0.9, 0.8], [False, False], [True, True], precision=0.9)
    assert not cal.feasible
    assert cal.chosen.threshold > 0.9
    assert cal.chosen.answered == 0 and cal.chosen.coverage == 0.0


def test_empty_and_bad_input() -> None:
    cal = select_threshold([], [], [], precision=0.9)
    assert not cal.feasible and cal.chosen.answered == 0
    with pytest.raises(ValueError):
        select_threshold([0.5], [True], [True, False], precision=0.9)
    with pytest.raises(ValueError):
        select_threshold([0.5], [True], [True], precision=1.5)


def test_operating_point_counts() -> None:
    point = operating_point([0.9, 0.4, 0.7], [True, True, False], [True, True, False], 0.5)
    assert (point.answered, point.answerable, point.unanswerable) == (1, 2, 1)
    assert point.precision == 1.0 and point.false_rate == 1.0 and point.coverage == 0.5


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 1, allow_nan=False), st.booleans(), st.booleans()), min_size=1, max_size=40
    ),
    st.floats(0.5, 1.0),
    st.floats(0.0, 0.5),
)
def test_chosen_threshold_holds_both_bounds_and_is_lowest(rows, precision, max_false) -> None:
    scores, correct, answerable = (list(x) for x in zip(*rows))
    cal = select_threshold(scores, correct, answerable, precision=precision, max_false=max_false)
    point = cal.chosen
    if cal.feasible:
        assert point.precision is not None and point.precision >= precision - 1e-9
        assert point.false_rate is None or point.false_rate <= max_false + 1e-9
        assert point.threshold >= max(cal.precision_threshold, cal.false_threshold)
        for t in sorted(set(scores)):
            if t >= point.threshold:
                break
            p = operating_point(scores, correct, answerable, t)
            holds = (p.precision is None or p.precision >= precision - 1e-9) and (
                p.false_rate is None or p.false_rate <= max_false + 1e-9
            )
            assert not (holds and p.answered > 0)
    else:
        assert point.answered == 0
        assert point.threshold > np.max(scores)
