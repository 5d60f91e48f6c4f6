"""Webhook text and decision reasons are data: the CLI tables print them as they are, never as Rich markup
(a reason "intent bug in [bug, churn_risk]" lost its list, and a text could restyle the terminal)."""

from __future__ import annotations

import pytest
from rich.console import Console

from schemas.item import Account, Decision
from services.cli.inspect import _items_table
from tests.inbox_support import queued_item

pytestmark = pytest.mark.unit


def test_items_table_prints_brackets_in_text_and_reasons_literally() -> None:
    item = queued_item(1, text="[bold red]URGENT[/bold red] sync broken [link=https://evil.example]here[/link]")
    item = item.model_copy(update={"decision": Decision(rule="strategic-accounts", action="route", team="strategic-pm",
                                                        priority="high", reason="intent bug in [bug, churn_risk]"),
                                   "account": Account(id="acc_x", name="[blink]Acme[/blink]")})
    console = Console(record=True, width=400)
    console.print(_items_table([item], "strategic-pm"))
    out = console.export_text()
    assert "intent bug in [bug, churn_risk]" in out
    assert "[bold red]URGENT[/bold red]" in out and "[link=https://evil.example]here[/link]" in out
    assert "[blink]Acme[/blink]" in out
    assert 'href="https://evil.example"' not in console.export_html()
