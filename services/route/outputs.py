"""Where a decided item goes (pure): the subject for its decision, and the item as published there."""

from __future__ import annotations

from datetime import datetime

from schemas.item import Answer, Decision, Item
from services.common import names
from services.config.models import Thresholds


def outcome_subject(item: Item, decision: Decision) -> str:
    if decision.action == "route":
        return names.queue_subject(decision.team or names.UNROUTED_TEAM, item.id)
    if decision.action == "answer":
        return names.answer_subject(item.source, item.id)
    if decision.action == "drop":
        return names.dropped_subject(item.source, item.id)
    return names.record_subject(item.source, item.id)


def decided_item(item: Item, decision: Decision, now: datetime) -> Item:
    answer = None
    if decision.action == "answer" and item.kb and item.kb.article:
        answer = Answer(article=item.kb.article, score=item.kb.score, title=item.kb.title, url=item.kb.url)
    return item.model_copy(update={"decision": decision, "answer": answer, "decided_at": now})


def with_thresholds(decision: Decision, thresholds: Thresholds) -> Decision:
    """The decision as recorded: with the thresholds in force for the audit in `switchboard trace`."""
    return decision.model_copy(
        update={"thresholds": {"kb": thresholds.kb, "area": thresholds.area, "intent": thresholds.intent}}
    )
