"""Routing config tests: tests/config_cases/*.yaml run against the example config's rules.

Each file holds `cases: [{name, item: {...}, expect: {rule, action, team, priority?, reason_contains?}}]`.
`item` is a partial item: the helper fills in id, source, kind, event_type, delivery_id and received_at,
an account id when `account` is given, and a confidence when `area` is given as a plain id. `kb_threshold`
(optional, per case or at the top of a file) stands in for the calibrated threshold; without it the example
config's (calibration.yaml, or the documented default) applies.
Add a file here to pin down how your rules route the items you care about.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.item import Item
from services.config.loader import load_config
from services.route.partial_items import item_from_partial
from services.route.rules import compile_rules, decide

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT / "tests" / "config_cases"
CONFIG = load_config(ROOT / "examples" / "config")
RULES = compile_rules(CONFIG.rules)


def item_from(partial: dict[str, Any]) -> Item:
    """A full Item from the few fields a case cares about."""
    return item_from_partial(partial, CONFIG)


def load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text()) or {}
        for case in document.get("cases") or []:
            if "kb_threshold" in document:
                case = {"kb_threshold": document["kb_threshold"], **case}
            params.append(pytest.param(case, id=f"{path.stem}::{case['name']}"))
    return params


@pytest.mark.parametrize("case", load_cases())
def test_case(case: dict[str, Any]) -> None:
    threshold = case.get("kb_threshold", CONFIG.thresholds.kb)
    decision = decide(item_from(case["item"]), RULES, CONFIG.areas, threshold, config_version=CONFIG.version)
    expect = case["expect"]
    got = {key: getattr(decision, key) for key in ("rule", "action", "team", "priority") if key in expect}
    assert got == {key: expect[key] for key in got}, decision.reason
    if "reason_contains" in expect:
        assert expect["reason_contains"] in decision.reason
    assert decision.config_version == CONFIG.version


def test_there_are_cases() -> None:
    assert len(load_cases()) >= 10
