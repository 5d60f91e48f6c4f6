"""`switchboard rules test` through typer's CliRunner, against the example config (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _bm25(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_ENCODER", "bm25")


def _run(item: dict, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["rules", "test", "-", "--config", str(EXAMPLE), *extra], input=json.dumps(item))


def test_strategic_bug_decided_by_strategic_rule_with_earlier_rule_explained() -> None:
    result = _run({"text": "Exports fail", "intent": "bug", "area": "reporting", "account": {"arr": 250000}}, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["decision"]["rule"] == "strategic-accounts"
    assert out["decision"]["team"] == "strategic-pm" and out["decision"]["priority"] == "high"
    assert [r["rule"] for r in out["rules"]] == ["ignore-page-views", "strategic-accounts"]
    first = out["rules"][0]
    assert first["matched"] is False and "category feedback is not usage" in first["why"]
    # the operand of `in` is in the reason (it used to vanish as rich markup in the terminal)
    assert "[bug, churn_risk]" in out["decision"]["reason"]


def test_failed_condition_shows_the_value_it_saw() -> None:
    result = _run({"text": "The mobile app crashes", "intent": "bug", "area": "mobile", "account": {"arr": 5000}})
    assert result.exit_code == 0, result.output
    assert "account.arr 5000" in result.stdout  # the value the failed `gte` saw
    assert "decision: route to mobile [normal] by rule by-area" in result.stdout


def test_reason_keeps_the_operand_of_in_on_the_terminal() -> None:
    result = _run({"text": "Exports fail", "intent": "bug", "area": "reporting", "account": {"arr": 250000}})
    assert result.exit_code == 0, result.output
    assert "why: account.arr 250000 >= 100000 and intent bug in [bug, churn_risk]" in result.stdout


def test_text_only_item_is_judged_first() -> None:
    result = _run({"text": "I was charged twice this month, please refund the extra invoice"}, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["judged"] is True and out["item"]["area"]["id"] == "billing"


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "item.json"
    bad.write_text('{\n  "text": "x",\n  oops\n}')
    result = runner.invoke(app, ["rules", "test", str(bad), "--config", str(EXAMPLE)])
    assert result.exit_code == 2
    assert f"{bad}:3:" in result.output


def test_bad_field_is_a_usage_error() -> None:
    result = _run({"text": "x", "received_at": "not a date"})
    assert result.exit_code == 2 and "received_at" in result.output
