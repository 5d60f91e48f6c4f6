"""The themes report, pure: distinct-account ARR, previous period, merged themes resolved, team, order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from schemas.item import Account, Item, ThemeRef
from services.themes.clustering import Member, new_theme
from services.themes.report import Directory, item_themes, theme_reports

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def item(n: int, theme: str, account: str | None, arr: float | None, days_ago: float, text: str = "t") -> Item:
    return Item(id=f"i{n}", source="native", kind="standard", event_type="feedback.created", delivery_id=f"d{n}",
                received_at=NOW - timedelta(days=days_ago), text=f"{text} {n}",
                account=Account(id=account, arr=arr) if account else None,
                theme=ThemeRef(id=theme, label="old label", area="reporting"))


def theme(theme_id: str, label: str, merged_into: str | None = None):  # type: ignore[no-untyped-def]
    t = new_theme("reporting", np.ones(2, np.float32), Member(f"{theme_id}-0", label, None, None), "m", NOW)
    return t.model_copy(update={"id": theme_id, "label": label, "merged_into": merged_into})


def test_report_counts_each_account_once_and_resolves_merges() -> None:
    period = [
        item(1, "A", "acme", 100_000, 1), item(2, "A", "acme", 120_000, 0.5), item(3, "A", "globex", 50_000, 2),
        item(4, "B", "acme", 120_000, 1),  # B was merged into A: counted under A
        item(5, "C", "initech", 900_000, 1), item(6, "C", None, None, 1),
    ]
    previous = [item(7, "A", "acme", 1, 9), item(8, "C", "x", 1, 8), item(9, "C", "x", 1, 10)]
    directory = Directory(themes={"A": theme("A", "csv export"), "B": theme("B", "exports", merged_into="A"),
                                  "C": theme("C", "sso login")},
                          area_teams={"reporting": "insights"}, item_teams={"i5": "strategic-pm", "i6": "strategic-pm"})
    rows = theme_reports(period, previous, directory)
    assert [r.id for r in rows] == ["C", "A"]  # by ARR first
    c, a = rows
    assert (a.items, a.accounts, a.arr, a.previous, a.label) == (4, 2, 170_000, 1, "csv export")  # acme at its latest ARR
    assert a.item_ids == ["i3", "i1", "i4", "i2"]  # oldest first
    assert (c.items, c.accounts, c.arr, c.previous, c.team) == (2, 1, 900_000, 2, "strategic-pm")
    assert a.team == "insights"  # no queue: the area's owning team
    assert [r.id for r in theme_reports(period, previous, directory, team="insights")] == ["A"]
    assert len(a.examples) == 3


def test_items_without_a_theme_are_not_reported_and_siblings_are_found() -> None:
    a1, a2, b1 = item(1, "A", "acme", 1, 1), item(2, "B", "globex", 2, 1), item(3, "C", None, None, 1)
    plain = a1.model_copy(update={"id": "plain", "theme": None})
    directory = Directory(themes={"A": theme("A", "x"), "B": theme("B", "y", merged_into="A")}, area_teams={}, item_teams={})
    assert {r.id for r in theme_reports([a1, a2, b1, plain], [], directory)} == {"A", "C"}
    resolved, siblings = item_themes(a1, [a1, a2, b1, plain], directory)
    assert resolved is not None and resolved.id == "A" and [s.id for s in siblings] == ["i2"]
    assert item_themes(plain, [a1], directory) == (None, [])
