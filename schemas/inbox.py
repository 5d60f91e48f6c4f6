"""The PM inbox's wire contract: an item's state (KV `sb_item_state`, one entry per item id) and the activity
event every state change publishes on `sb.activity.<team>.<item id>` (stream SB_ACTIVITY).

The history of an item is its activity events, oldest first; the state is the last of them folded in, kept
in KV so that a change is a compare-and-set on the entry's revision (two concurrent changes cannot both win).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["open", "claimed", "snoozed", "resolved"]
ActionName = Literal["claim", "snooze", "reassign", "resolve", "reopen"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemState(_Model):
    """What KV `sb_item_state` holds for an item (key = item id). An item in a queue without an entry is
    `open` in its decision's team. `status` is as stored: a snooze that has passed reads as `open` (the API's
    `state` is computed at read time from this record and the clock)."""

    item_id: str
    status: Status
    team: str
    assignee: str | None = None  # the claiming PM's e-mail
    snoozed_until: datetime | None = None
    sla_due: datetime
    note: str | None = None  # the last resolve / reassign note
    updated_at: datetime
    updated_by: str | None = None
    version: int  # number of changes so far (0 = never changed; every change adds one)


class ActivityEvent(_Model):
    """One inbox state change: who did what when, the status and team before and after, and the note.
    Subject `sb.activity.<team before the change>.<item id>`; `Nats-Msg-Id` = `<item id>.<version>`."""

    item_id: str
    version: int  # the item's state version after this change
    action: ActionName
    by: str  # the PM's e-mail
    by_name: str | None = None
    at: datetime
    from_status: Status
    to_status: Status
    from_team: str
    to_team: str
    assignee: str | None = None
    until: datetime | None = None  # snooze
    note: str | None = None
    reply: bool = False  # resolve: the note was sent back to the asker (SB_OUTBOX)
