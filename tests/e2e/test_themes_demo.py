"""Contract 7 on a running instance: after `switchboard demo`, `switchboard themes --json` shows a theme that
several accounts share, with the ARR of its distinct accounts, and the rule on theme.arr routed by it."""

from __future__ import annotations

import json

import pytest

from services.common.embedded import free_port
from tests.e2e.conftest import Running
from tests.e2e.test_demo_loop import demo

pytestmark = pytest.mark.e2e
# accounts.csv: the five accounts that ask for scheduled dashboard e-mails in native-demo.jsonl
DASHBOARD_ACCOUNTS = {"acc_wayne": 22000, "acc_acme": 54000, "acc_northwind": 250000, "acc_globex": 480000, "acc_stark": 185000}


def test_demo_shows_a_theme_of_several_accounts(switchboard: Running) -> None:
    out = demo(switchboard, "--fake-port", str(free_port()), "--deliveries-wait", "1")
    assert out.returncode == 0, out.stderr
    themes = switchboard.cli("themes", "--json", "--since", "1d")
    assert themes.returncode == 0, themes.stderr
    rows = [json.loads(line) for line in themes.stdout.splitlines() if line.strip()]
    top = rows[0]  # by ARR
    assert top["accounts"] == 5 and top["items"] == 5, rows[:3]
    assert top["arr"] == sum(DASHBOARD_ACCOUNTS.values())  # 991,000: each account once
    assert top["area"] == "reporting" and "dashboard" in top["label"]
    assert all(r["accounts"] <= 2 for r in rows[1:])  # nothing unrelated was lumped in with it
    trace = [switchboard.cli("trace", item_id).stdout for item_id in top["item_ids"]]
    assert any("strategic-theme" in t for t in trace)  # past $500k across 3+ accounts: the strategic desk
    flat = [" ".join(t.split()) for t in trace]  # the console wraps long lines
    assert all("theme: " in t and f"({top['id']}:" in t for t in flat)  # trace shows the theme as of each item
    assert any("5 items, 5 accounts, $991,000 ARR" in t for t in flat)  # the last of the five
