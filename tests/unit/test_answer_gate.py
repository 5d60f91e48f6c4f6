"""The answer gate: only a question is ever auto-answered; the demo's NPS complaint is routed to its team."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.item import Item
from services.config.loader import load_config
from services.config.models import AreaConfig, AreasFile, RuleConfig
from services.enrich.encoder import ModelUnavailable, load_model
from services.enrich.enrichment import enrich_item
from services.enrich.judge import Judge
from services.route.rules import compile_rules, decide, explain

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
AREAS = AreasFile(areas=[AreaConfig(id="reporting", team="insights", examples=["charts"])])
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def item(**fields) -> Item:
    base = {"id": "i1", "source": "native", "kind": "native", "event_type": "message", "delivery_id": "d1",
            "received_at": NOW, "category": "feedback", "area": {"id": "reporting", "confidence": 0.9}}
    return Item.model_validate({**base, **fields})


def test_answer_rule_without_an_intent_condition_still_answers_only_questions() -> None:
    rules = compile_rules([RuleConfig.model_validate(r) for r in (
        {"name": "answer-anything", "answer": {}},  # a careless rule: no `when` at all
        {"name": "by-area", "route": {"team": "$area"}},
    )])
    kb = {"article": "csv-export", "score": 0.99}
    bug = item(intent="bug", text="The CSV export cuts off wide tables", kb=kb)
    verdicts, decision = explain(bug, rules, AREAS, kb_threshold=0.1)
    assert (decision.action, decision.rule, decision.team) == ("route", "by-area", "insights")
    assert verdicts[0].matched and not verdicts[0].fired
    assert "intent bug is not a question" in verdicts[0].why and "never auto-answered" in verdicts[0].why
    for intent in ("feature_request", "praise", "churn_risk", "other", None):
        assert decide(item(intent=intent, kb=kb), rules, AREAS, 0.1).action == "route"
    question = decide(item(intent="question", kb=kb), rules, AREAS, 0.1)
    assert question.action == "answer" and "csv-export scored 0.99 >= 0.10" in question.reason


@pytest.fixture(scope="module")
def example_judge() -> Judge:
    try:
        encoder = load_model()
    except ModelUnavailable as exc:  # the example calibration is for the model; BM25 would mean other thresholds
        pytest.skip(f"MiniLM model not installed: {exc}")
    return Judge.from_config(load_config(ROOT / "examples" / "config"), encoder=encoder)


def test_demo_nps_complaint_is_routed_not_answered(example_judge: Judge) -> None:
    config = load_config(ROOT / "examples" / "config")
    sample = json.loads((ROOT / "examples" / "samples" / "pendo.json").read_text())
    text = sample["properties"]["comment"]
    assert text.startswith("Scheduling reports is great but the PDF export cuts off wide tables")
    analysis = example_judge.analyse([text])
    [judgement] = example_judge.judgements(analysis)
    p_question = float(analysis.intent.probs[0, example_judge.intent_head.labels.index("question")])
    assert judgement.intent != "question" and p_question < 0.1  # far from a question, not a near-tie
    enriched = enrich_item(item(source="pendo", kind="pendo", text=text, area=None), None, judgement, NOW)
    decision = decide(enriched, compile_rules(config.rules), config.areas, config.thresholds.kb)
    assert decision.action == "route" and decision.team == config.areas.team_of(judgement.area.id)
    assert decision.team not in (None, "unrouted")


def test_example_questions_are_still_answered(example_judge: Judge) -> None:
    config = load_config(ROOT / "examples" / "config")
    [judgement] = example_judge.judge(["How do I export a report as CSV?"])
    enriched = enrich_item(item(text="How do I export a report as CSV?", area=None), None, judgement, NOW)
    decision = decide(enriched, compile_rules(config.rules), config.areas, config.thresholds.kb)
    assert judgement.intent == "question" and judgement.intent_confidence > 0.9
    assert decision.action == "answer" and judgement.kb is not None and judgement.kb.article == "csv-export"
