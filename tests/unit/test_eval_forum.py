"""The forum evaluation's fixed split and its scoring (pure; the data set itself is read only by `make eval`)."""

from __future__ import annotations

import pytest

from bench.eval_forum import held_out, reliability, scores

pytestmark = pytest.mark.unit


def test_split_is_a_fixed_rule_of_the_text() -> None:
    texts = [f"sentence number {i}" for i in range(400)]
    first = [held_out(t) for t in texts]
    assert first == [held_out(t) for t in texts]  # no seed, no order: the same text is always on the same side
    assert 150 < sum(first) < 250  # about half


def test_scores_per_class_and_non_questions_taken_for_questions() -> None:
    gold = ["question", "question", "bug", "bug", "request", "other"]
    pred = ["question", "bug", "question", "bug", "request", "other"]
    result = scores(gold, pred)
    assert result["per_class"]["question"][:2] == (0.5, 0.5)
    assert result["per_class"]["bug"][:2] == (0.5, 0.5)
    assert result["non_questions_as_question"] == 0.25  # 1 of the 4 non-questions
    assert result["per_class"]["praise"] == (0.0, 0.0, 0.0, 0)


def test_reliability_bins_and_error() -> None:
    rows, ece = reliability([0.95, 0.95, 0.5, 0.5], [True, False, True, False])
    assert [(round(c, 2), r, n) for c, r, n in rows] == [(0.5, 0.5, 2), (0.95, 0.5, 2)]
    assert ece == pytest.approx(0.225)
