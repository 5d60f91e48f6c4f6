"""The inbox's in-memory read model: feeds in any order, revisions never go back, reassigned items move team,
snoozes that passed list as open, sorting and filters, history kept once per version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.config.teams import TeamsFile
from services.inbox.index import InboxIndex, Query
from services.inbox.state import STATE_FILTERS, Actor, apply
from tests.inbox_support import queued_item

pytestmark = pytest.mark.unit

DANA = Actor("dana@example.com")


def ids(rows) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.item.id for e in rows]


def test_state_before_item_and_stale_revisions() -> None:
    idx = InboxIndex(TeamsFile())
    item = queued_item(1)
    from services.inbox.state import initial_state

    s1, ev1 = apply(initial_state(item, idx.teams), item, "claim", DANA, {}, idx.teams, datetime.now(UTC))
    idx.set_state(s1, 7)
    idx.add_event(ev1)  # both before the item itself
    idx.add_item(item)
    entry = idx.get(item.id)
    assert entry.state.status == "claimed" and entry.revision == 7 and [e.version for e in entry.history] == [1]
    s2, ev2 = apply(s1, item, "reassign", DANA, {"team": "platform"}, idx.teams, datetime.now(UTC))
    idx.set_state(s2, 9)
    idx.set_state(s1, 7)  # an older revision arriving late changes nothing
    idx.add_event(ev2)
    idx.add_event(ev2)
    now = datetime.now(UTC)
    assert entry.state.team == "platform" and [e.version for e in entry.history] == [1, 2]
    assert ids(idx.query(Query(teams=("platform",), statuses=STATE_FILTERS["open"]), now)) == [item.id]
    assert idx.query(Query(teams=("strategic-pm",), statuses=STATE_FILTERS["all"]), now) == []
    assert idx.counts("platform", now) == (1, 0) and idx.counts("strategic-pm", now) == (0, 0)


def test_sorting_filters_and_woken_snoozes() -> None:
    idx = InboxIndex(TeamsFile())
    a = queued_item(1, priority="low", arr=10.0, age=timedelta(hours=3), area="billing", account="Acme")
    b = queued_item(2, priority="high", arr=30.0, age=timedelta(hours=2), intent="question", account="Globex")
    c = queued_item(3, priority="normal", arr=20.0, age=timedelta(hours=1))
    for item in (a, b, c):
        idx.add_item(item)
    now = datetime.now(UTC)
    q = lambda **kw: ids(idx.query(Query(teams=("strategic-pm",), statuses=STATE_FILTERS[kw.pop("state", "open")], **kw), now))  # noqa: E731
    assert q() == [a.id, b.id, c.id]
    assert q(sort="arr", descending=True) == [b.id, c.id, a.id]
    assert q(sort="priority") == [b.id, c.id, a.id]
    assert q(limit=2) == [a.id, b.id]
    assert q(area="billing") == [a.id] and q(intent="question") == [b.id] and q(account="glob") == [b.id]
    snoozed, _ = apply(idx.get(c.id).state, c, "snooze", DANA, {"until": (now + timedelta(minutes=5)).isoformat()},
                       idx.teams, now)
    idx.set_state(snoozed, 1)
    assert q() == [a.id, b.id] and q(state="snoozed") == [c.id]
    later = now + timedelta(minutes=6)
    assert ids(idx.query(Query(teams=("strategic-pm",), statuses=STATE_FILTERS["open"]), later)) == [a.id, b.id, c.id]
    assert idx.query(Query(teams=("strategic-pm",), statuses=STATE_FILTERS["snoozed"]), later) == []
    assert idx.counts("strategic-pm", later) == (3, 0)
    assert idx.counts("strategic-pm", now + timedelta(days=30)) == (3, 3)  # the snooze woke; every SLA passed
    assert idx.facets("strategic-pm") == (["billing", "integrations"], ["bug", "question"])


def test_neighbours_follow_the_queue_order() -> None:
    idx = InboxIndex(TeamsFile())
    items = [queued_item(n, age=timedelta(hours=5 - n)) for n in range(4)]  # oldest first
    for item in items:
        idx.add_item(item)
    now = datetime.now(UTC)
    get = lambda i: idx.neighbours(idx.get(items[i].id), STATE_FILTERS["open"], now)  # noqa: E731
    assert get(0) == (None, items[1].id) and get(1) == (items[0].id, items[2].id) and get(3) == (items[2].id, None)
    resolved, _ = apply(idx.get(items[2].id).state, items[2], "resolve", DANA, {}, idx.teams, now)
    idx.set_state(resolved, 1)
    assert get(1) == (items[0].id, items[3].id)  # a resolved item is skipped
