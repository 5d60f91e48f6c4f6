"""The inbox's read model, in memory: every queued item with its state and history, by team.

Fed by `services.inbox.feed` (SB_QUEUES, the state bucket and SB_ACTIVITY, each followed live), so a request
never reads a stream: listing a team of 10,000 items is a filter and a sort over the team's entries. Feeds
may arrive in any order (a state before its item): what has no item yet waits in `_pending_*`.
"""

from __future__ import annotations

import asyncio
import heapq
from dataclasses import dataclass, field
from datetime import datetime

from schemas.inbox import ActivityEvent, ItemState, Status
from schemas.item import Item
from services.config.teams import TeamsFile
from services.inbox.state import initial_state

PRIORITY_RANK = {"high": 0, "normal": 1, "low": 2}
SORTS = ("age", "arr", "priority")


@dataclass(slots=True)
class Entry:
    item: Item
    state: ItemState
    revision: int = 0  # KV revision of `state`; 0 = no entry (the initial state)
    history: list[ActivityEvent] = field(default_factory=list)
    # plain values the queries compare (10,000 entries per team are scanned per request): set by `derive`
    received: float = 0.0
    arr: float = 0.0
    priority: str = "normal"
    priority_rank: int = 1
    area: str | None = None
    account_text: str = ""
    status: str = "open"
    wake: float | None = None  # a snooze's end
    due: float = 0.0

    def derive(self) -> "Entry":
        item = self.item
        self.received = item.received_at.timestamp()
        self.arr = (item.account.arr or 0.0) if item.account else 0.0
        self.priority = (item.decision.priority if item.decision else None) or "normal"
        self.priority_rank = PRIORITY_RANK.get(self.priority, 1)
        self.area = item.area.id if item.area else None
        self.account_text = f"{item.account.name or ''}\n{item.account.id}".lower() if item.account else ""
        return self.derive_state()

    def derive_state(self) -> "Entry":
        self.status = self.state.status
        self.wake = self.state.snoozed_until.timestamp() if self.state.snoozed_until else None
        self.due = self.state.sla_due.timestamp()
        return self

    def status_at(self, now: float) -> str:
        if self.status == "snoozed" and self.wake is not None and self.wake <= now:
            return "open"
        return self.status


@dataclass(frozen=True)
class Query:
    teams: tuple[str, ...]
    statuses: tuple[Status, ...]
    sort: str = "age"
    descending: bool = False
    area: str | None = None
    intent: str | None = None
    account: str | None = None  # case-insensitive substring of the account's name or id
    limit: int = 100


class InboxIndex:
    def __init__(self, teams: TeamsFile) -> None:
        self.teams = teams
        self._entries: dict[str, Entry] = {}
        self._by_team: dict[str, dict[str, Entry]] = {}  # team -> item id -> entry
        self._pending_states: dict[str, tuple[ItemState, int]] = {}
        self._pending_history: dict[str, list[ActivityEvent]] = {}
        self._facets: dict[str, tuple[int, list[str], list[str]]] = {}
        self.version = 0  # bumps on every change: pages poll it to refresh without a reload
        self.changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._entries)

    def _bump(self) -> None:
        self.version += 1
        self.changed.set()
        self.changed = asyncio.Event()

    def add_item(self, item: Item) -> None:
        if item.id in self._entries:
            return
        entry = Entry(item=item, state=initial_state(item, self.teams))
        pending = self._pending_states.pop(item.id, None)
        if pending:
            entry.state, entry.revision = pending
        entry.derive()
        for event in self._pending_history.pop(item.id, []):
            _insert_event(entry.history, event)
        self._entries[item.id] = entry
        self._by_team.setdefault(entry.state.team, {})[item.id] = entry
        self._bump()

    def set_state(self, state: ItemState, revision: int) -> None:
        """A state from the bucket (or from this process's own change); an older revision never wins."""
        entry = self._entries.get(state.item_id)
        if entry is None:
            held = self._pending_states.get(state.item_id)
            if held is None or held[1] < revision:
                self._pending_states[state.item_id] = (state, revision)
            return
        if revision <= entry.revision:
            return
        if entry.state.team != state.team:
            self._by_team.get(entry.state.team, {}).pop(state.item_id, None)
            self._by_team.setdefault(state.team, {})[state.item_id] = entry
        entry.state, entry.revision = state, revision
        entry.derive_state()
        self._bump()

    def add_event(self, event: ActivityEvent) -> None:
        entry = self._entries.get(event.item_id)
        history = entry.history if entry else self._pending_history.setdefault(event.item_id, [])
        if _insert_event(history, event):
            self._bump()

    def get(self, item_id: str) -> Entry | None:
        return self._entries.get(item_id)

    def known_teams(self) -> list[str]:
        return sorted(t for t, ids in self._by_team.items() if ids)

    def counts(self, team: str, now: datetime) -> tuple[int, int]:
        """(open, overdue) of a team: open counts what still needs someone (open and claimed)."""
        ts = now.timestamp()
        open_, overdue = 0, 0
        for e in self._by_team.get(team, {}).values():
            status = e.status
            if status == "claimed" or status == "open" or (status == "snoozed" and e.wake is not None and e.wake <= ts):
                open_ += 1
                if ts > e.due:
                    overdue += 1
        return open_, overdue

    def query(self, q: Query, now: datetime) -> list[Entry]:
        ts = now.timestamp()
        account = q.account.lower() if q.account else None
        statuses = frozenset(q.statuses)
        woken_ok = "open" in statuses
        area, intent = q.area, q.intent
        rows: list[Entry] = []
        for team in q.teams:
            for e in self._by_team.get(team, {}).values():
                status = e.status
                if status not in statuses:
                    if not (woken_ok and status == "snoozed" and e.wake is not None and e.wake <= ts):
                        continue
                elif status == "snoozed" and e.wake is not None and e.wake <= ts:
                    continue  # asked for snoozed, but this one has woken up
                if area and e.area != area:
                    continue
                if intent and e.item.intent != intent:
                    continue
                if account and account not in e.account_text:
                    continue
                rows.append(e)
        pick = heapq.nlargest if q.descending else heapq.nsmallest
        return pick(q.limit, rows, key=_sort_key(q.sort))

    def neighbours(self, entry: Entry, statuses: tuple[Status, ...], now: datetime) -> tuple[str | None, str | None]:
        """The items just before and after `entry` in its team's queue, oldest first (one pass, no sort)."""
        ts = now.timestamp()
        here = (entry.received, entry.item.id)
        prev: tuple[float, str] | None = None
        nxt: tuple[float, str] | None = None
        for e in self._by_team.get(entry.state.team, {}).values():
            if e.status_at(ts) not in statuses:
                continue
            key = (e.received, e.item.id)
            if key < here and (prev is None or key > prev):
                prev = key
            elif key > here and (nxt is None or key < nxt):
                nxt = key
        return (prev[1] if prev else None), (nxt[1] if nxt else None)

    def facets(self, team: str) -> tuple[list[str], list[str]]:
        """The areas and intents present in a team's queue (the page's filter choices); cached per version."""
        cached = self._facets.get(team)
        if cached and cached[0] == self.version:
            return cached[1], cached[2]
        areas, intents = set(), set()
        for entry in self._by_team.get(team, {}).values():
            if entry.area:
                areas.add(entry.area)
            if entry.item.intent:
                intents.add(entry.item.intent)
        self._facets[team] = (self.version, sorted(areas), sorted(intents))
        return self._facets[team][1], self._facets[team][2]


def _sort_key(sort: str):  # type: ignore[no-untyped-def]
    if sort == "arr":  # highest ARR first when descending; ties oldest first
        return lambda e: (e.arr, -e.received)
    if sort == "priority":
        return lambda e: (e.priority_rank, e.received)
    return lambda e: e.received


def _insert_event(history: list[ActivityEvent], event: ActivityEvent) -> bool:
    """Keep one event per version, in version order; False when it was already there."""
    if any(e.version == event.version for e in history):
        return False
    history.append(event)
    history.sort(key=lambda e: e.version)
    return True
