"""The inbox state machine, pure: an item's state before any change, the state a change leads to (with the
activity event it publishes), and the state as the API shows it at a given moment.

Transitions (anything else is a conflict, 409):
    open / snoozed-and-passed ──claim──▶ claimed (assignee = who)
    open / claimed / snoozed  ──snooze {until}──▶ snoozed (back to open when `until` passes, computed at read)
    open / claimed / snoozed  ──reassign {team}──▶ open in the new team (assignee cleared, SLA of the new team)
    open / claimed / snoozed  ──resolve {note}──▶ resolved
    claimed / snoozed / resolved ──reopen──▶ open (assignee cleared)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.inbox import ActionName, ActivityEvent, ItemState, Status
from schemas.item import Item
from services.common import names
from services.config.teams import TeamsFile

STATUSES: tuple[Status, ...] = ("open", "claimed", "snoozed", "resolved")
# `state=` filter of GET /api/items: open (the default) lists what still needs someone: open and claimed
STATE_FILTERS: dict[str, tuple[Status, ...]] = {
    "open": ("open", "claimed"),
    "claimed": ("claimed",),
    "snoozed": ("snoozed",),
    "resolved": ("resolved",),
    "all": STATUSES,
}
MAX_NOTE = 10_000


class Conflict(Exception):
    """The change does not apply to the item's current state (HTTP 409)."""


class Invalid(ValueError):
    """The change's arguments are wrong (HTTP 422)."""


@dataclass(frozen=True)
class Actor:
    email: str
    name: str | None = None


def queued_team(item: Item) -> str:
    return (item.decision.team if item.decision and item.decision.team else None) or names.UNROUTED_TEAM


def priority_of(item: Item) -> str:
    return (item.decision.priority if item.decision else None) or "normal"


def sla_due(item: Item, team: str, teams: TeamsFile) -> datetime:
    start = item.decided_at or item.received_at
    return start + timedelta(seconds=teams.team(team).sla_seconds(priority_of(item)))


def initial_state(item: Item, teams: TeamsFile) -> ItemState:
    """The state of a queued item that nobody has touched: open in its decision's team, version 0."""
    team = queued_team(item)
    at = item.decided_at or item.received_at
    return ItemState(item_id=item.id, status="open", team=team, sla_due=sla_due(item, team, teams),
                     updated_at=at, version=0)


def effective_status(state: ItemState, now: datetime) -> Status:
    if state.status == "snoozed" and state.snoozed_until is not None and state.snoozed_until <= now:
        return "open"
    return state.status


def is_overdue(state: ItemState, now: datetime) -> bool:
    return effective_status(state, now) in ("open", "claimed") and now > state.sla_due


def state_json(state: ItemState, now: datetime) -> dict[str, Any]:
    """Contract 6's `state` object, as of `now`."""
    return {
        "status": effective_status(state, now),
        "team": state.team,
        "assignee": state.assignee,
        "sla_due": state.sla_due.isoformat(),
        "overdue": is_overdue(state, now),
        "updated_at": state.updated_at.isoformat(),
        "version": state.version,
    }


def _note(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("note must be a string")
    if len(value) > MAX_NOTE:
        raise Invalid(f"note is longer than {MAX_NOTE} characters")
    return value.strip() or None


def apply(
    state: ItemState, item: Item, action: ActionName, actor: Actor, body: dict[str, Any], teams: TeamsFile,
    now: datetime,
) -> tuple[ItemState, ActivityEvent]:
    """The state after `action` by `actor`, and the event that records it. Raises Conflict or Invalid."""
    current = effective_status(state, now)
    changes: dict[str, Any] = {"updated_at": now, "updated_by": actor.email, "version": state.version + 1}
    event: dict[str, Any] = {}
    if action == "claim":
        if current == "claimed":
            raise Conflict(f"already claimed by {state.assignee}")
        if current != "open":
            raise Conflict(f"a {current} item cannot be claimed; reopen it first")
        changes.update(status="claimed", assignee=actor.email, snoozed_until=None)
    elif action == "snooze":
        until = _until(body.get("until"), now)
        if current == "resolved":
            raise Conflict("a resolved item cannot be snoozed; reopen it first")
        changes.update(status="snoozed", snoozed_until=until)
        event["until"] = until
    elif action == "reassign":
        team = body.get("team")
        if not isinstance(team, str) or not names.TOKEN_RE.match(team):
            raise Invalid("team must be a team id (letters, digits, '-' and '_')")
        if current == "resolved":
            raise Conflict("a resolved item cannot be reassigned; reopen it first")
        if team == state.team:
            raise Conflict(f"the item is already in {team}")
        note = _note(body.get("note"))
        changes.update(status="open", team=team, assignee=None, snoozed_until=None, note=note,
                       sla_due=sla_due(item, team, teams))
        event["note"] = note
    elif action == "resolve":
        note = _note(body.get("note"))
        reply = body.get("reply", False)
        if not isinstance(reply, bool):
            raise Invalid("reply must be true or false")
        if reply and not note:
            raise Invalid("a reply needs a note: it is what the asker receives")
        if current == "resolved":
            raise Conflict("already resolved")
        changes.update(status="resolved", snoozed_until=None, note=note)
        event.update(note=note, reply=reply)
    elif action == "reopen":
        if current == "open":
            raise Conflict("the item is already open")
        changes.update(status="open", assignee=None, snoozed_until=None)
    else:  # pragma: no cover - the routes only pass the five actions
        raise Invalid(f"unknown action {action!r}")
    after = state.model_copy(update=changes)
    activity = ActivityEvent(
        item_id=state.item_id, version=after.version, action=action, by=actor.email, by_name=actor.name, at=now,
        from_status=current, to_status=after.status, from_team=state.team, to_team=after.team,
        assignee=after.assignee, **event,
    )
    return after, activity


def _until(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise Invalid("until must be an ISO 8601 date-time, e.g. 2026-03-02T09:00:00Z")
    try:
        until = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("until must be an ISO 8601 date-time, e.g. 2026-03-02T09:00:00Z") from None
    if until.tzinfo is None:
        raise Invalid("until needs a time zone (e.g. Z or +02:00)")
    if until <= now:
        raise Invalid("until must be in the future")
    return until
