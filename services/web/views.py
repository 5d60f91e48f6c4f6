"""What the pages show, as plain values (pure): rows of a queue, ages, money, SLA wording. Templates only
lay these out; every value reaches the page through Jinja's autoescape."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.inbox.index import Entry
from services.inbox.state import effective_status, is_overdue


def ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


def due_in(due: datetime, now: datetime) -> str:
    seconds = int((due - now).total_seconds())
    if seconds < 0:
        return f"overdue {ago(due, now)}"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"due in {seconds // size}{unit}"
    return "due now"


def money(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 1_000_000:
        return f"${value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"${value / 1_000:.0f}k"
    return f"${value:,.0f}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    snippet: str
    account: str
    arr: str
    priority: str
    area: str
    intent: str
    status: str
    assignee: str
    age: str
    sla: str
    overdue: bool
    source: str


def row(entry: Entry, now: datetime) -> Row:
    item, state = entry.item, entry.state
    text = (item.text or "").strip()
    title = (item.title or "").strip() or (text[:90] + ("…" if len(text) > 90 else "")) or "(no text)"
    return Row(
        id=item.id,
        title=title,
        snippet=text[:160] if item.title else "",
        account=(item.account.name or item.account.id) if item.account else "",
        arr=money(item.account.arr) if item.account else "",
        priority=entry.priority,
        area=item.area.id if item.area else "",
        intent=item.intent or "",
        status=effective_status(state, now),
        assignee=state.assignee or "",
        age=ago(item.received_at, now),
        sla=due_in(state.sla_due, now) if effective_status(state, now) in ("open", "claimed") else "",
        overdue=is_overdue(state, now),
        source=item.source,
    )


def detail(entry: Entry, now: datetime) -> dict[str, Any]:
    """The item page's facts beyond the row: decision, account, area and intent with confidence, payload."""
    item = entry.item
    d = item.decision
    payload = item.raw if item.raw is not None else item.model_dump(mode="json", include={"text", "title"})
    return {
        "row": row(entry, now),
        "text": item.text or "",
        "title": item.title or "",
        "url": item.url if item.url and item.url.lower().startswith(("https://", "http://")) else "",
        "received": when(item.received_at),
        "kind": item.kind,
        "event_type": item.event_type,
        "person": (item.person.email or item.person.name or "") if item.person else "",
        "decision": {"rule": d.rule or "built-in", "action": d.action, "team": d.team or "",
                     "priority": d.priority or "normal", "reason": d.reason} if d else None,
        "account": item.account,
        "arr": money(item.account.arr) if item.account else "",
        "area_confidence": f"{item.area.confidence:.2f}" if item.area else "",
        "intent_confidence": f"{item.intent_confidence:.2f}" if item.intent_confidence is not None else "",
        "payload": json.dumps(payload, indent=2, ensure_ascii=False, default=str)[:50_000],
        "state": entry.state,
        "sla_due": when(entry.state.sla_due),
        "snoozed_until": when(entry.state.snoozed_until),
        "history": [
            {"at": when(e.at), "by": e.by_name or e.by, "action": e.action, "from": e.from_status,
             "to": e.to_status, "from_team": e.from_team, "to_team": e.to_team, "note": e.note or "",
             "until": when(e.until), "reply": e.reply}
            for e in entry.history
        ],
    }
