"""Pure pieces around the workers: where a decision goes, what enrichment puts on an item, retry delays."""

from datetime import UTC, datetime

import pytest

from schemas.item import Account, AreaMatch, Decision, Item, KbMatch
from services.common.errors import PermanentError, TransientError, is_permanent, is_transient, retry_delay
from services.enrich.enrichment import enrich_item, needs_judgement, text_of
from services.enrich.judge import Judgement
from services.route.outputs import decided_item, outcome_subject

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def item(**fields) -> Item:
    base = dict(id="abc123", source="native", kind="standard", event_type="x", delivery_id="d1", received_at=NOW)
    return Item(**{**base, **fields})


@pytest.mark.parametrize(
    "action,team,subject",
    [
        ("route", "platform", "sb.queue.platform.abc123"),
        ("route", None, "sb.queue.unrouted.abc123"),
        ("answer", None, "sb.answers.native.abc123"),
        ("drop", None, "sb.dropped.native.abc123"),
        ("record", None, "sb.records.native.abc123"),
    ],
)
def test_outcome_subject(action, team, subject) -> None:
    assert outcome_subject(item(), Decision(rule="r", action=action, team=team, reason="because")) == subject


def test_answer_decision_carries_the_article() -> None:
    it = item(kb=KbMatch(article="sso-setup", score=0.91, title="SSO", url="https://help/sso"))
    out = decided_item(it, Decision(rule="answer-how-to", action="answer", reason="r"), NOW)
    assert out.answer is not None and out.answer.article == "sso-setup" and out.answer.score == 0.91
    routed = decided_item(it, Decision(rule="by-area", action="route", team="platform", reason="r"), NOW)
    assert routed.answer is None and routed.decided_at == NOW


def test_enrichment_sets_account_area_intent_kb_and_honours_adapter_intent_hint() -> None:
    judgement = Judgement(area=AreaMatch(id="billing", confidence=0.8, best="billing"), intent="question",
                          intent_confidence=0.7, kb=KbMatch(article="refund-policy", score=0.6))
    acct = Account(id="acc_1", arr=1000.0, matched_by="id")
    out = enrich_item(item(text="Refund please"), acct, judgement, NOW)
    assert out.account == acct and out.area.id == "billing" and out.intent == "question" and out.kb.article == "refund-policy"
    hinted = enrich_item(item(text="Too pricey", attributes={"intent_hint": "churn_risk"}), None, judgement, NOW)
    assert hinted.intent == "churn_risk" and hinted.intent_confidence == 1.0


def test_only_feedback_with_words_is_judged() -> None:
    assert needs_judgement(item(text="hello"))
    assert not needs_judgement(item(text="  "))
    assert not needs_judgement(item(text="hello", category="usage"))
    assert text_of(item(title="Export", text="is slow")) == "Export \nis slow"


def test_retry_delay_grows_and_is_capped() -> None:
    delays = [retry_delay(n) for n in range(1, 10)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert delays == sorted(delays) and max(delays) == 30.0


def test_error_classes() -> None:
    assert is_permanent(PermanentError("x")) and not is_transient(PermanentError("x"))
    assert is_transient(TransientError("x")) and is_transient(TimeoutError()) and not is_permanent(KeyError("x"))
