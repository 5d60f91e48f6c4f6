"""The pure parts of backtests: destinations, the from→to tally, and when texts must be judged again."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.item import Decision
from services.config.loader import load_config
from services.config.models import Thresholds
from services.route.backtest import destination, judgement_inputs, tally

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config"


def test_destination_names() -> None:
    assert destination(Decision(rule="r", action="route", team="insights", reason="x")) == "queue:insights"
    assert destination(Decision(rule=None, action="route", reason="no rule matched")) == "queue:unrouted"
    assert destination(Decision(rule="a", action="answer", reason="x")) == "answer"
    assert destination(Decision(rule="d", action="drop", reason="x")) == "drop"


def test_tally_groups_moves_and_skips_unchanged() -> None:
    moves = tally([("1", "queue:a", "answer"), ("2", "queue:a", "queue:a"), ("3", "queue:a", "answer"), ("4", "drop", "queue:b")])
    assert [(m.from_, m.to, m.ids) for m in moves] == [("queue:a", "answer", ["1", "3"]), ("drop", "queue:b", ["4"])]
    assert moves[0].as_json() == {"from": "queue:a", "to": "answer", "count": 2, "ids": ["1", "3"]}


def test_judgement_inputs_change_with_thresholds_not_rules() -> None:
    config = load_config(EXAMPLE)
    assert judgement_inputs(config) == judgement_inputs(config.model_copy(update={"rules": []}))
    stricter = config.model_copy(update={"thresholds": Thresholds(kb=0.99, area=config.thresholds.area)})
    assert judgement_inputs(config) != judgement_inputs(stricter)
