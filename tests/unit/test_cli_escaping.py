"""Webhook text is hostile in the terminal too: Rich markup in an item's text or a rule's reason is printed as
written, never interpreted (no hidden text, no injected links, no lost `[..]` operands)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from schemas.item import Account, Decision, Item
from services.cli.inspect import _items_table

pytestmark = pytest.mark.unit

HOSTILE = "[link=https://evil.example]click me[/link] [red]alarm[/red] [bold"


def test_items_table_prints_markup_literally() -> None:
    item = Item(id="x1", source="native", kind="standard", event_type="e", delivery_id="d",
                received_at=datetime(2026, 1, 1, tzinfo=UTC), text=HOSTILE,
                account=Account(id="a", name="[blink]Acme[/blink]"),
                decision=Decision(rule="strategic", action="route", team="t", reason="intent bug in [bug, churn_risk]"))
    console = Console(record=True, width=400)
    console.print(_items_table([item], "q"))
    text = console.export_text()
    assert HOSTILE in text
    assert "[blink]Acme[/blink]" in text
    assert "intent bug in [bug, churn_risk]" in text
    assert 'href="https://evil.example"' not in console.export_html()
