"""Deliver's NATS names (pure): what a consumed subject is, its dead letter's subject, and where a replay goes.
One item's answer, notification and replies must never share a dead-letter subject (SB_DLQ keeps one per
subject, so a second would be refused and lost)."""

from __future__ import annotations

import pytest

from services.common import names

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("subject, origin, dlq, replay_to", [
    ("sb.answers.zd.it1", "answer", "sb.dlq.deliver.it1", "sb.outbox.answer.it1.replay9"),
    ("sb.answers.zd.it1.replay3", "answer", "sb.dlq.deliver.it1.replay3", "sb.outbox.answer.it1.replay9"),
    ("sb.outbox.answer.it1.replay4", "answer", "sb.dlq.deliver.it1.replay4", "sb.outbox.answer.it1.replay9"),
    ("sb.queue.insights.it1", "notify", "sb.dlq.deliver.it1.notify", "sb.outbox.notify.it1.replay9"),
    ("sb.outbox.notify.it1.replay4", "notify", "sb.dlq.deliver.it1.notify-replay4", "sb.outbox.notify.it1.replay9"),
    ("sb.outbox.reply.it1.2", "reply", "sb.dlq.deliver.it1.reply2", "sb.outbox.reply.it1.2.replay9"),
    ("sb.outbox.reply.it1.2.replay7", "reply", "sb.dlq.deliver.it1.reply2-replay7", "sb.outbox.reply.it1.2.replay9"),
])
def test_deliver_subjects(subject: str, origin: str, dlq: str, replay_to: str) -> None:
    got_origin, item_id, _, _ = names.deliver_input(subject)
    assert (got_origin, item_id) == (origin, "it1")
    token_id, suffix = names.deliver_dead_letter_token(subject)
    assert names.dlq_subject("deliver", token_id, suffix) == dlq
    assert names.deliver_replay_subject(subject, "it1", 9) == replay_to


def test_answer_notification_and_replies_of_one_item_get_distinct_dead_letters() -> None:
    subjects = ["sb.answers.zd.it1", "sb.queue.insights.it1", "sb.outbox.reply.it1.1", "sb.outbox.reply.it1.2"]
    dlqs = {names.dlq_subject("deliver", *names.deliver_dead_letter_token(s)) for s in subjects}
    assert len(dlqs) == len(subjects)
