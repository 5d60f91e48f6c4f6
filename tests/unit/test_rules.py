"""The rules engine: operators, combinators, first match, $area, answers, drops and built-in outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.item import Item
from services.common.names import UNROUTED_TEAM
from services.config.models import AreasFile, RuleConfig
from services.route.rules import compile_rule, compile_rules, decide, explain

pytestmark = pytest.mark.unit

AREAS = AreasFile.model_validate(
    {"areas": [{"id": "billing", "team": "monetization"}, {"id": "access", "team": "platform"}]}
)


def make_item(**fields: Any) -> Item:
    """A valid Item from a few fields; nested account/area/kb get their required parts filled in."""
    base: dict[str, Any] = {
        "id": "item1",
        "source": "native",
        "kind": "standard",
        "event_type": "message",
        "delivery_id": "d1",
        "received_at": datetime(2025, 1, 1, tzinfo=UTC),
        "text": "hello",
    }
    if isinstance(fields.get("account"), dict):
        fields["account"] = {"id": "acc_1", **fields["account"]}
    if isinstance(fields.get("area"), str):
        fields["area"] = {"id": fields["area"], "confidence": 0.9}
    return Item.model_validate({**base, **fields})


def rules(*specs: dict[str, Any]) -> list[RuleConfig]:
    return [RuleConfig.model_validate({"name": f"r{i}", **s}) if "name" not in s else RuleConfig.model_validate(s)
            for i, s in enumerate(specs)]


def matches(when: dict[str, Any], **item_fields: Any) -> bool:
    compiled = compile_rules(rules({"name": "t", "when": when, "route": {"team": "x"}}))
    return decide(make_item(**item_fields), compiled, AREAS, 0.6).rule == "t"


# --- operators -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("when", "fields", "expected"),
    [
        ({"intent": "bug"}, {"intent": "bug"}, True),
        ({"intent": "bug"}, {"intent": "question"}, False),
        ({"intent": {"eq": "bug"}}, {"intent": "bug"}, True),
        ({"intent": {"ne": "bug"}}, {"intent": "question"}, True),
        ({"intent": {"ne": "bug"}}, {"intent": "bug"}, False),
        ({"intent": {"ne": "bug"}}, {}, True),  # missing matches ne
        ({"intent": {"in": ["bug", "churn_risk"]}}, {"intent": "churn_risk"}, True),
        ({"intent": {"in": ["bug", "churn_risk"]}}, {"intent": "praise"}, False),
        ({"intent": {"in": ["bug"]}}, {}, False),
        ({"intent": {"nin": ["bug"]}}, {"intent": "praise"}, True),
        ({"intent": {"nin": ["bug"]}}, {"intent": "bug"}, False),
        ({"intent": {"nin": ["bug"]}}, {}, True),  # missing matches nin
        ({"account.arr": {"gt": 100}}, {"account": {"arr": 101}}, True),
        ({"account.arr": {"gt": 100}}, {"account": {"arr": 100}}, False),
        ({"account.arr": {"gte": 100}}, {"account": {"arr": 100}}, True),
        ({"account.arr": {"lt": 100}}, {"account": {"arr": 99.5}}, True),
        ({"account.arr": {"lt": 100}}, {"account": {"arr": 100}}, False),
        ({"account.arr": {"lte": 100}}, {"account": {"arr": 100}}, True),
        ({"account.arr": {"gte": 0}}, {}, False),  # missing never compares
        ({"account.arr": {"gte": 0}}, {"account": {"arr": None}}, False),
        ({"account.plan": {"gt": 5}}, {"account": {"plan": "enterprise"}}, False),  # type mismatch
        ({"received_at": {"gte": "2024-12-31"}}, {}, True),  # ISO text compares as text
        ({"text": {"contains": "REFUND"}}, {"text": "I want a refund now"}, True),
        ({"text": {"contains": "invoice"}}, {"text": "I want a refund"}, False),
        ({"attributes.tags": {"contains": "vip"}}, {"attributes": {"tags": ["vip", "beta"]}}, True),
        ({"attributes": {"contains": "tier"}}, {"attributes": {"tier": "gold"}}, True),
        ({"title": {"matches": r"^\[URGENT\]"}}, {"title": "[URGENT] sync broken"}, True),
        ({"title": {"matches": r"^\[URGENT\]"}}, {"title": "sync broken [URGENT]"}, False),
        ({"title": {"matches": "(?i)outage"}}, {"title": "Outage in EU"}, True),
        ({"title": {"matches": "x"}}, {}, False),
        ({"account.arr": {"matches": "1"}}, {"account": {"arr": 1}}, False),  # not text
        ({"person.email": {"exists": True}}, {"person": {"email": "a@b.co"}}, True),
        ({"person.email": {"exists": True}}, {"person": {"name": "A"}}, False),
        ({"person.email": {"exists": False}}, {}, True),
        ({"person.email": {"exists": False}}, {"person": {"email": "a@b.co"}}, False),
        ({"account.arr": {"gte": 10, "lt": 20}}, {"account": {"arr": 15}}, True),  # operators ANDed
        ({"account.arr": {"gte": 10, "lt": 20}}, {"account": {"arr": 25}}, False),
        ({"attributes.tags.1": "beta"}, {"attributes": {"tags": ["vip", "beta"]}}, True),  # list index
        ({"kind": "standard", "source": "native"}, {}, True),  # several fields ANDed
        ({"kind": "standard", "source": "zendesk"}, {}, False),
    ],
)
def test_operators(when: dict[str, Any], fields: dict[str, Any], expected: bool) -> None:
    assert matches(when, **fields) is expected


def test_object_shorthand_compares_the_id() -> None:
    assert matches({"area": "billing"}, area="billing")
    assert matches({"area": {"in": ["access", "billing"]}}, area="billing")
    assert matches({"area.id": "billing"}, area="billing")
    assert not matches({"area": "billing"}, area="access")
    assert matches({"account": "acc_1"}, account={"arr": 5})
    assert matches({"area": {"ne": "billing"}}, area="access")


def test_combinators() -> None:
    any_of = {"any": [{"intent": "bug"}, {"account.arr": {"gte": 100}}]}
    assert matches(any_of, intent="bug")
    assert matches(any_of, intent="praise", account={"arr": 500})
    assert not matches(any_of, intent="praise", account={"arr": 5})
    all_of = {"all": [{"intent": "bug"}, {"account.arr": {"gte": 100}}]}
    assert matches(all_of, intent="bug", account={"arr": 500})
    assert not matches(all_of, intent="bug", account={"arr": 5})
    assert matches({"not": {"kind": "segment"}})
    assert not matches({"not": {"kind": "standard"}})
    nested = {"intent": "bug", "not": {"any": [{"account.plan": "free"}, {"account": {"exists": False}}]}}
    assert matches(nested, intent="bug", account={"plan": "enterprise"})
    assert not matches(nested, intent="bug", account={"plan": "free"})
    assert not matches(nested, intent="bug")


# --- rule order and actions ----------------------------------------------------------------------------

def test_first_matching_rule_decides_and_no_when_matches_everything() -> None:
    compiled = compile_rules(rules(
        {"name": "bugs", "when": {"intent": "bug"}, "route": {"team": "qa", "priority": "high"}},
        {"name": "bugs-too", "when": {"intent": "bug"}, "route": {"team": "other"}},
        {"name": "rest", "route": {"team": "triage"}},
    ))
    bug = decide(make_item(intent="bug"), compiled, AREAS, 0.6, config_version="v1")
    assert (bug.rule, bug.action, bug.team, bug.priority, bug.config_version) == ("bugs", "route", "qa", "high", "v1")
    other = decide(make_item(intent="praise"), compiled, AREAS, 0.6)
    assert (other.rule, other.team, other.priority) == ("rest", "triage", "normal")
    assert "matches every item" in other.reason


def test_area_team() -> None:
    compiled = compile_rules(rules({"name": "by-area", "route": {"team": "$area"}}))
    owned = decide(make_item(area="billing"), compiled, AREAS, 0.6)
    assert (owned.team, owned.rule) == ("monetization", "by-area")
    assert "area billing is owned by team monetization" in owned.reason
    unknown = decide(make_item(area={"id": "unknown", "confidence": 0.2, "best": "access"}), compiled, AREAS, 0.6)
    assert unknown.team == UNROUTED_TEAM
    assert "no owning team" in unknown.reason and "best guess access" in unknown.reason
    none = decide(make_item(), compiled, AREAS, 0.6)
    assert none.team == UNROUTED_TEAM and "no product area" in none.reason


def test_answer_uses_min_confidence_or_falls_through() -> None:
    compiled = compile_rules(rules(
        {"name": "answer", "when": {"intent": "question"}, "answer": {"min_confidence": 0.8}},
        {"name": "fallback", "route": {"team": "$area"}},
    ))
    confident = make_item(intent="question", area="billing", kb={"article": "refunds", "score": 0.85})
    decision = decide(confident, compiled, AREAS, kb_threshold=0.95)  # rule's own threshold wins
    assert (decision.rule, decision.action, decision.team) == ("answer", "answer", None)
    assert "refunds scored 0.85 >= 0.80" in decision.reason and "min_confidence" in decision.reason
    unsure = make_item(intent="question", area="billing", kb={"article": "refunds", "score": 0.7})
    assert decide(unsure, compiled, AREAS, kb_threshold=0.5).rule == "fallback"
    no_article = make_item(intent="question", area="billing", kb={"article": None, "score": 0.0})
    assert decide(no_article, compiled, AREAS, 0.1).rule == "fallback"
    no_kb = make_item(intent="question", area="billing")
    assert decide(no_kb, compiled, AREAS, 0.1).rule == "fallback"


def test_answer_without_min_confidence_uses_calibrated_threshold() -> None:
    compiled = compile_rules(rules(
        {"name": "answer", "when": {"intent": "question"}, "answer": {}},
        {"name": "fallback", "route": {"team": "triage"}},
    ))
    item = make_item(intent="question", kb={"article": "sso", "score": 0.7})
    answered = decide(item, compiled, AREAS, kb_threshold=0.65)
    assert answered.action == "answer" and "calibrated" in answered.reason
    assert decide(item, compiled, AREAS, kb_threshold=0.75).rule == "fallback"
    assert decide(item, compiled, AREAS, kb_threshold=0.7).action == "answer"  # >= threshold


def test_drop() -> None:
    compiled = compile_rules(rules(
        {"name": "pages", "when": {"kind": "segment", "event_type": "page"}, "drop": {"reason": "page views"}},
    ))
    decision = decide(make_item(kind="segment", event_type="page"), compiled, AREAS, 0.6)
    assert (decision.rule, decision.action, decision.team) == ("pages", "drop", None)
    assert decision.reason == "kind = segment and event_type = page; dropped: page views"


def test_nothing_matches_goes_to_unrouted() -> None:
    compiled = compile_rules(rules({"name": "bugs", "when": {"intent": "bug"}, "route": {"team": "qa"}}))
    decision = decide(make_item(intent="praise"), compiled, AREAS, 0.6, config_version="abc")
    assert decision.model_dump() == {
        "rule": None, "action": "route", "team": UNROUTED_TEAM, "priority": "normal",
        "reason": "no rule matched", "config_version": "abc", "thresholds": None,
    }
    assert decide(make_item(), [], AREAS, 0.6).team == UNROUTED_TEAM


@pytest.mark.parametrize(
    ("category", "reason"),
    [
        ("account", "account update applied to the directory"),
        ("usage", "usage signal recorded on the account"),
        ("system", "system event recorded"),
    ],
)
def test_non_feedback_items_are_recorded_unless_a_rule_names_category(category: str, reason: str) -> None:
    catch_all = compile_rules(rules({"name": "all", "route": {"team": "triage"}}))
    decision = decide(make_item(category=category), catch_all, AREAS, 0.6)
    assert (decision.rule, decision.action, decision.team, decision.reason) == (None, "record", None, reason)
    explicit = compile_rules(rules(
        {"name": "usage-drop", "when": {"any": [{"category": {"in": ["usage", "system"]}}]}, "drop": {"reason": "x"}},
        {"name": "all", "route": {"team": "triage"}},
    ))
    expected = "usage-drop" if category in ("usage", "system") else None
    assert decide(make_item(category=category), explicit, AREAS, 0.6).rule == expected
    assert decide(make_item(), explicit, AREAS, 0.6).rule == "all"  # feedback sees every rule


def test_reason_explains_why_with_the_items_values() -> None:
    compiled = compile_rules(rules({
        "name": "strategic",
        "when": {"account.arr": {"gte": 100000}, "intent": {"in": ["bug", "churn_risk"]}},
        "route": {"team": "strategic-pm", "priority": "high"},
    }))
    decision = decide(make_item(account={"arr": 250000}, intent="bug"), compiled, AREAS, 0.6)
    assert decision.reason == "account.arr 250000 >= 100000 and intent bug in [bug, churn_risk]"
    negated = compile_rules(rules({"name": "n", "when": {"not": {"kind": "segment"}}, "route": {"team": "x"}}))
    assert decide(make_item(), negated, AREAS, 0.6).reason == "not (kind = segment)"
    any_rule = compile_rules(rules({"name": "a", "when": {"any": [{"intent": "bug"}, {"text": {"contains": "down"}}]},
                                    "route": {"team": "x"}}))
    assert decide(make_item(text="site is down"), any_rule, AREAS, 0.6).reason == "text contains 'down'"


def test_explain_lists_every_rule_tried() -> None:
    compiled = compile_rules(rules(
        {"name": "bugs", "when": {"intent": "bug"}, "route": {"team": "qa"}},
        {"name": "answer", "when": {"intent": "question"}, "answer": {}},
        {"name": "rest", "route": {"team": "triage"}},
    ))
    item = make_item(intent="question", kb={"article": "sso", "score": 0.3})
    verdicts, decision = explain(item, compiled, AREAS, 0.6, config_version="v")
    assert [(v.rule, v.matched, v.fired) for v in verdicts] == [
        ("bugs", False, False), ("answer", True, False), ("rest", True, True)
    ]
    assert "intent question is not bug" in verdicts[0].why
    assert "falling through" in verdicts[1].why
    assert decision.rule == "rest" and decision.config_version == "v"


def test_decide_accepts_uncompiled_rules() -> None:
    decision = decide(make_item(intent="bug"), rules({"name": "b", "when": {"intent": "bug"}, "route": {"team": "q"}}),
                      AREAS, 0.6)
    assert decision.rule == "b"


# --- compile errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"intent": {"equals": "bug"}}, "unknown operator 'equals'"),
        ({"account.arr": {"gtee": 1}}, "did you mean 'gte'"),
        ({"title": {"matches": "(unclosed"}}, "bad regular expression"),
        ({"intent": {"in": "bug"}}, "`in` takes a list"),
        ({"intent": ["bug", "question"]}, "write {in: [bug, question]}"),
        ({"person.email": {"exists": "yes"}}, "`exists` takes true or false"),
        ({"account.arr": {"gt": [1]}}, "`gt` takes a number"),
        ({"intnet": "bug"}, "unknown field 'intnet' in the item (did you mean 'intent'?)"),
        ({"account.ar": {"gt": 1}}, "unknown field 'ar' in account"),
        ({"any": {"intent": "bug"}}, "`any` takes a non-empty list"),
        ({"not": ["x"]}, "a condition must be a mapping"),
        ({"intent": {}}, "empty operator map"),
    ],
)
def test_compile_errors_name_the_rule(when: dict[str, Any], message: str) -> None:
    rule = RuleConfig.model_validate({"name": "broken", "when": when, "route": {"team": "x"}})
    with pytest.raises(ValueError) as info:
        compile_rule(rule)
    assert "rule 'broken'" in str(info.value)
    assert message in str(info.value)


def test_free_form_fields_are_open() -> None:
    compile_rule(RuleConfig.model_validate({"name": "ok", "when": {"attributes.anything.deep": 1, "raw.x": 2},
                                            "route": {"team": "x"}}))


def test_bad_team_is_rejected() -> None:
    with pytest.raises(ValueError, match="team 'pm team'"):
        compile_rule(RuleConfig.model_validate({"name": "t", "route": {"team": "pm team"}}))
    compile_rule(RuleConfig.model_validate({"name": "t", "route": {"team": "$area"}}))


def test_empty_when_matches_everything() -> None:
    compiled = compile_rules(rules({"name": "all", "when": {}, "route": {"team": "triage"}}))
    decision = decide(make_item(), compiled, AREAS, 0.6)
    assert (decision.rule, decision.reason) == ("all", "rule all matches every item")
