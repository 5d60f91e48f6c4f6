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
    cal = select_threshold(scores, correct, [True] * 5, precision=0.75, confidence=None)
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
    cal = select_threshold(scores, correct, answerable, precision=0.9, max_false=0.25, confidence=None)
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
    cal = select_threshold(scores, correct, answerable, precision=precision, max_false=max_false, confidence=None)
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


# --- statistical bounds (confidence=0.95, the default) ---------------------------------------------------


def test_too_few_null_lines_cannot_prove_the_false_answer_bound() -> None:
    scores = [0.9] * 40 + [0.1] * 20
    answerable = [True] * 40 + [False] * 20
    cal = select_threshold(scores, answerable, answerable, precision=0.9, max_false=0.10)
    assert not cal.feasible and cal.chosen.answered == 0  # 0 of 20 answered is no proof of <= 10%
    assert cal.chosen.false_upper is not None and cal.chosen.false_upper > 0.10
    assert any("only 20 null lines" in s and "at least 29" in s for s in cal.too_small)
    point = select_threshold(scores, answerable, answerable, precision=0.9, max_false=0.10, confidence=None)
    assert point.feasible and point.chosen.coverage == 1.0  # the point estimate would answer everything


def test_bound_holds_and_is_stricter_than_the_point_estimate() -> None:
    rng = np.random.default_rng(3)
    ok_scores, null_scores = rng.uniform(0.3, 1.0, 300), rng.uniform(0.0, 0.6, 300)
    scores = np.concatenate([ok_scores, null_scores])
    answerable = np.array([True] * 300 + [False] * 300)
    cal = select_threshold(scores, answerable, answerable, precision=0.9, max_false=0.10)
    point = select_threshold(scores, answerable, answerable, precision=0.9, max_false=0.10, confidence=None)
    assert cal.feasible and cal.chosen.false_upper is not None and cal.chosen.false_upper <= 0.10
    assert cal.chosen.false_rate is not None and cal.chosen.false_rate <= 0.08  # room left for sampling error
    assert cal.chosen.threshold > point.chosen.threshold + 0.01
    assert len(cal.neighbours) == 2 and cal.neighbours[0].threshold < cal.chosen.threshold < cal.neighbours[1].threshold
    assert not cal.too_small


def test_gate_keeps_lines_that_are_no_question_from_being_answered() -> None:
    scores = [0.95] * 30 + [0.99] * 30  # the feedback lines even score higher than the questions
    answerable = [True] * 30 + [False] * 30
    gate = [True] * 30 + [False] * 30  # ... but the judge did not take them for questions
    cal = select_threshold(scores, answerable, answerable, precision=0.9, max_false=0.10, gate=gate)
    assert cal.feasible and cal.chosen.false_answered == 0 and cal.chosen.coverage == 1.0
    assert not select_threshold(scores, answerable, answerable, precision=0.9, max_false=0.10).feasible


def test_bounded_threshold_exceeds_the_unseen_false_rate_rarely() -> None:
    """Null scores ~ U(0, 1), so the true false-answer share at threshold t is 1 - t. Over 200 calibrations
    on 100 null lines, the 95% bound lets the true share exceed F in about 5% of them or fewer; the point
    estimate does in about half."""
    rng = np.random.default_rng(11)
    exceeded = {0.95: 0, None: 0}
    for _ in range(200):
        scores = np.concatenate([rng.uniform(0, 1, 100), rng.uniform(0, 1, 100)])
        answerable = np.array([True] * 100 + [False] * 100)
        for confidence in exceeded:
            cal = select_threshold(scores, answerable, answerable, precision=0.5, max_false=0.2, confidence=confidence)
            exceeded[confidence] += (1 - cal.chosen.threshold) > 0.2
    assert exceeded[0.95] <= 16  # 8%: a margin over the nominal 5% (10 of 200)
    assert exceeded[None] >= 60  # the point estimate fails far more often


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.booleans(), st.booleans()), min_size=1, max_size=120),
    st.floats(0.5, 0.99),
    st.floats(0.01, 0.5),
)
def test_bounded_choice_meets_both_bounds(rows, precision, max_false) -> None:
    scores, correct, answerable = (list(x) for x in zip(*rows))
    cal = select_threshold(scores, correct, answerable, precision=precision, max_false=max_false)
    if cal.feasible:
        assert cal.chosen.precision_lower is not None and cal.chosen.precision_lower >= precision - 1e-9
        assert cal.chosen.false_upper is None or cal.chosen.false_upper <= max_false + 1e-9
    else:
        assert cal.chosen.answered == 0
