"""The inbox's read model, in memory: every queued item with its state and history, by team.

Fed by `services.inbox.feed` (SB_QUEUES, the state bucket and SB_ACTIVITY, each followed live), so a request
never reads a stream: listing a team of 10,000 items is a filter and a sort over the team's entries. Feeds
may arrive in any order (a state before its item): what has no item yet waits in `_pending_*`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from schemas.inbox import ActivityEvent, ItemState, Status
from schemas.item import Item
from services.config.teams import TeamsFile
from services.inbox.state import effective_status, initial_state, is_overdue

PRIORITY_RANK = {"high": 0, "normal": 1, "low": 2}
SORTS = ("age", "arr", "priority")


@dataclass
class Entry:
    item: Item
    state: ItemState
    revision: int = 0  # KV revision of `state`; 0 = no entry (the initial state)
    history: list[ActivityEvent] = field(default_factory=list)

    @property
    def arr(self) -> float:
        return (self.item.account.arr or 0.0) if self.item.account else 0.0

    @property
    def priority(self) -> str:
        return (self.item.decision.priority if self.item.decision else None) or "normal"


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
        self._by_team: dict[str, set[str]] = {}
        self._pending_states: dict[str, tuple[ItemState, int]] = {}
        self._pending_history: dict[str, list[ActivityEvent]] = {}
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
        for event in self._pending_history.pop(item.id, []):
            _insert_event(entry.history, event)
        self._entries[item.id] = entry
        self._by_team.setdefault(entry.state.team, set()).add(item.id)
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
            self._by_team.get(entry.state.team, set()).discard(state.item_id)
            self._by_team.setdefault(state.team, set()).add(state.item_id)
        entry.state, entry.revision = state, revision
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
        open_, overdue = 0, 0
        for item_id in self._by_team.get(team, ()):
            state = self._entries[item_id].state
            if effective_status(state, now) in ("open", "claimed"):
                open_ += 1
                overdue += is_overdue(state, now)
        return open_, overdue

    def query(self, q: Query, now: datetime) -> list[Entry]:
        account = q.account.lower() if q.account else None
        rows: list[Entry] = []
        for team in q.teams:
            for item_id in self._by_team.get(team, ()):
                entry = self._entries[item_id]
                if effective_status(entry.state, now) not in q.statuses:
                    continue
                item = entry.item
                if q.area and (item.area.id if item.area else None) != q.area:
                    continue
                if q.intent and item.intent != q.intent:
                    continue
                if account and not _account_matches(item, account):
                    continue
                rows.append(entry)
        rows.sort(key=_sort_key(q.sort), reverse=q.descending)
        return rows[: q.limit]

    def facets(self, teams: Iterable[str]) -> tuple[list[str], list[str]]:
        """The areas and intents present in these teams' queues (the page's filter choices)."""
        areas, intents = set(), set()
        for team in teams:
            for item_id in self._by_team.get(team, ()):
                item = self._entries[item_id].item
                if item.area:
                    areas.add(item.area.id)
                if item.intent:
                    intents.add(item.intent)
        return sorted(areas), sorted(intents)


def _account_matches(item: Item, needle: str) -> bool:
    acct = item.account
    if acct is None:
        return False
    return needle in (acct.name or "").lower() or needle in acct.id.lower()


def _sort_key(sort: str):  # type: ignore[no-untyped-def]
    if sort == "arr":  # highest ARR first when descending; ties oldest first
        return lambda e: (e.arr, -e.item.received_at.timestamp())
    if sort == "priority":
        return lambda e: (PRIORITY_RANK.get(e.priority, 1), e.item.received_at)
    return lambda e: e.item.received_at


def _insert_event(history: list[ActivityEvent], event: ActivityEvent) -> bool:
    """Keep one event per version, in version order; False when it was already there."""
    if any(e.version == event.version for e in history):
        return False
    history.append(event)
    history.sort(key=lambda e: e.version)
    return True
