"""A rejected answer is re-decided without answer rules and always lands in a queue (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.item import Answer, Decision, Item
from schemas.outbox import Feedback
from services.config.models import AreasFile, RuleConfig
from services.ingest.feedback_pages import page
from services.route.rejected import redecide_rejected, rejected_item, without_answer_rules
from services.route.rules import compile_rules

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, tzinfo=UTC)
AREAS = AreasFile.model_validate({"areas": [{"id": "access", "team": "platform"}]})
FEEDBACK = Feedback(item_id="item1", verdict="not_helpful", via="link", article="sso-setup", at=NOW)


def answered(**fields: Any) -> Item:
    base: dict[str, Any] = dict(
        id="item1", source="native", kind="standard", event_type="feedback.created", delivery_id="d1",
        received_at=NOW, text="How do I set up SSO with Okta?", intent="question",
        area={"id": "access", "confidence": 0.9}, kb={"article": "sso-setup", "score": 0.93},
        decision=Decision(rule="answer-how-to", action="answer", reason="KB article sso-setup scored 0.93"),
        answer=Answer(article="sso-setup", score=0.93, title="Set up SSO", url="https://docs.example.com/sso"),
    )
    return Item.model_validate({**base, **fields})


def rules(*specs: dict[str, Any]) -> list:
    return compile_rules([RuleConfig.model_validate(s) for s in specs])


EXAMPLE = rules(
    {"name": "answer-how-to", "when": {"intent": "question"}, "answer": {}},
    {"name": "by-area", "route": {"team": "$area"}},
)


def test_answer_rules_are_left_out():
    assert [r.name for r in without_answer_rules(EXAMPLE)] == ["by-area"]


def test_rejected_answer_goes_to_its_area_team_with_the_reason():
    d = redecide_rejected(answered(), FEEDBACK, EXAMPLE, AREAS, 0.6, "v1")
    assert (d.action, d.team, d.rule, d.config_version) == ("route", "platform", "by-area", "v1")
    assert "sso-setup did not help" in d.reason and "area access is owned by team platform" in d.reason


def test_a_rule_can_route_every_rejected_answer():
    rs = rules(
        {"name": "answer-how-to", "when": {"intent": "question"}, "answer": {}},
        {"name": "rejected-to-docs", "when": {"answer_rejected": True}, "route": {"team": "docs", "priority": "high"}},
        {"name": "by-area", "route": {"team": "$area"}},
    )
    d = redecide_rejected(answered(), FEEDBACK, rs, AREAS, 0.6)
    assert (d.team, d.priority, d.rule) == ("docs", "high", "rejected-to-docs")


def test_a_drop_becomes_unrouted_so_a_person_sees_it():
    rs = rules({"name": "answer-all", "answer": {}}, {"name": "drop-questions", "when": {"intent": "question"},
                                                      "drop": {"reason": "questions are answered"}})
    d = redecide_rejected(answered(), FEEDBACK, rs, AREAS, 0.6)
    assert (d.action, d.team, d.rule) == ("route", "unrouted", "drop-questions")
    assert "would drop it" in d.reason


def test_no_rule_left_goes_to_unrouted():
    d = redecide_rejected(answered(), FEEDBACK, rules({"name": "answer-all", "answer": {}}), AREAS, 0.6)
    assert (d.action, d.team) == ("route", "unrouted")


def test_published_item_keeps_the_rejected_answer_and_is_flagged():
    item = answered()
    d = redecide_rejected(item, FEEDBACK, EXAMPLE, AREAS, 0.6)
    out = rejected_item(item, d, NOW)
    assert out.answer_rejected and out.answer == item.answer and out.decision == d and out.decided_at == NOW
    assert not item.answer_rejected  # the input is not changed


def test_confirm_page_escapes_webhook_text():
    hostile = answered(text='<script>alert(1)</script>', answer=Answer(article="a", score=1, title="<b>t</b>",
                                                                        url="javascript:alert(1)"))
    html = page("confirm", hostile, "not_helpful")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;t&lt;/b&gt;" in html
    assert "javascript:" not in html  # only http(s) article links are linked
    assert '<form method="post"' in html and "No, this did not help" in html


def test_missing_page_shows_no_item():
    html = page("missing")
    assert "not valid" in html and "<form" not in html


def test_answer_stats_count_per_article():
    from services.cli.answer_stats import count

    a1, a2 = answered(), answered(id="item2")
    a3 = answered(id="item3", answer=Answer(article="csv-export", score=0.8))
    fb = [FEEDBACK, Feedback(item_id="item2", verdict="helpful", via="slack", article="sso-setup", at=NOW),
          Feedback(item_id="gone", verdict="not_helpful", via="link", article="csv-export", at=NOW)]
    rows = {r.article: r for r in count([a1, a2, a3], fb)}
    assert (rows["sso-setup"].answers, rows["sso-setup"].helpful, rows["sso-setup"].not_helpful) == (2, 1, 1)
    assert (rows["csv-export"].answers, rows["csv-export"].helpful, rows["csv-export"].not_helpful) == (1, 0, 1)
    assert [r.article for r in count([a1, a2, a3], fb)] == ["sso-setup", "csv-export"]
