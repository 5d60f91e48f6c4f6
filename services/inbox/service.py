"""The inbox's operations for one user: which teams they see, list a team's queue, read an item, change its
state. Used by the JSON API and the pages alike (they differ only in how they answer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from schemas.inbox import ActionName, ItemState
from services.common import names
from services.config.models import Config
from services.inbox.index import Entry, InboxIndex, Query
from services.inbox.state import Actor, Invalid, state_json
from services.inbox.store import StateStore


class NotFound(LookupError):
    """No such item in any queue (404)."""


class Forbidden(PermissionError):
    """The item or team is not one of the user's teams (403)."""


class Viewer(Protocol):
    email: str
    name: str | None
    teams: tuple[str, ...]

    def sees(self, team: str) -> bool: ...


class Inbox:
    def __init__(self, config: Config, index: InboxIndex, store: StateStore) -> None:
        self.config = config
        self.index = index
        self.store = store

    def all_teams(self) -> list[str]:
        """Every team the config names (teams.yaml, areas, rules) or that holds items, plus `unrouted`."""
        teams = {t.id for t in self.config.teams.teams} | {names.UNROUTED_TEAM}
        teams |= {a.team for a in self.config.areas.areas}
        teams |= {r.route.team for r in self.config.rules if r.route and not r.route.team.startswith("$")}
        teams |= set(self.index.known_teams())
        return sorted(teams)

    def teams_of(self, user: Viewer) -> list[str]:
        if "*" in user.teams:
            return self.all_teams()
        return list(dict.fromkeys(user.teams))

    def team_name(self, team: str) -> str:
        for t in self.config.teams.teams:
            if t.id == team and t.name:
                return t.name
        return team

    def team_counts(self, user: Viewer, now: datetime | None = None) -> list[dict[str, Any]]:
        now = now or datetime.now(UTC)
        out = []
        for team in self.teams_of(user):
            open_, overdue = self.index.counts(team, now)
            out.append({"id": team, "open": open_, "overdue": overdue})
        return out

    def query(self, user: Viewer, q: Query, now: datetime | None = None) -> list[Entry]:
        for team in q.teams:
            if not user.sees(team):
                raise Forbidden(f"{team} is not one of your teams")
        return self.index.query(q, now or datetime.now(UTC))

    def entry(self, user: Viewer, item_id: str) -> Entry:
        entry = self.index.get(item_id)
        if entry is None:
            raise NotFound(item_id)
        if not user.sees(entry.state.team):
            raise Forbidden(f"item {item_id} is in {entry.state.team}, not one of your teams")
        return entry

    async def change(self, user: Viewer, item_id: str, action: ActionName, body: dict[str, Any]) -> Entry:
        entry = self.entry(user, item_id)
        if action == "reassign" and isinstance(body.get("team"), str) and body["team"] not in self.all_teams():
            raise Invalid(f"no team {body['team']!r}: teams are those of teams.yaml, areas.yaml and rules.yaml")

        def may_change(current: ItemState) -> None:
            # the store re-reads the state from KV: the index may be a moment behind another replica's change
            if not user.sees(current.team):
                raise Forbidden(f"item {item_id} is in {current.team}, not one of your teams")

        state, revision, event = await self.store.change(
            entry.item, action, Actor(user.email, user.name), body, check=may_change
        )
        self.index.set_state(state, revision)
        self.index.add_event(event)
        return entry


def item_json(entry: Entry, now: datetime, history: bool = False) -> dict[str, Any]:
    """Contract 6's ITEM: the item JSON (contract 4) with `state`, and `history` for one item."""
    out = entry.item.model_dump(mode="json")
    out["state"] = state_json(entry.state, now)
    if history:
        out["history"] = [e.model_dump(mode="json") for e in entry.history]
    return out
