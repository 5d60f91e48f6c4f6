"""The question-form signal: interrogative structure, not just a question mark (pure text features)."""

from __future__ import annotations

import pytest

from services.enrich.question_form import form_bias, question_form

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text", [
    "How do I change the default folder",  # no question mark, still a question
    "hi all, is there a way to keep the window on top",
    "I was wondering if the app can run from a USB stick",
    "the toolbar moved to the bottom, how can I get it back up",
    "Does anyone know where the log file is written?",
])
def test_questions_by_structure(text: str) -> None:
    assert question_form(text).interrogative


@pytest.mark.parametrize("text", [
    "Scheduling reports is great but the PDF export cuts off wide tables, so we still rebuild them in Excel every Monday.",
    "when I start the video I hear sound but see no picture",  # wh-word opening a subordinate clause
    "Can't open any file since the update",  # negative auxiliary, a statement
    "Please add dark mode",
])
def test_statements_are_not_questions(text: str) -> None:
    form = question_form(text)
    assert not form.interrogative and not form.mark


def test_a_request_dressed_as_a_question_is_flagged() -> None:
    assert question_form("Could you please add an option to hide the sidebar?").ask_to_change
    assert not question_form("How do I hide the sidebar?").ask_to_change


def test_bias_pushes_statements_away_from_question_and_requests_to_feature_request() -> None:
    labels = ["question", "bug", "feature_request", "other"]
    bias = form_bias(["It crashes on start", "How do I start it?", "Can you add a start button?"], labels)
    assert bias is not None
    assert bias[0, 0] < 0 < bias[1, 0]
    assert bias[2, 2] > 0 and bias[2, 0] < bias[1, 0]
    assert form_bias(["anything"], ["bug", "other"]) is None  # no question label: nothing to push
