"""Messages that close the loop: a PM's reply to the asker (SB_OUTBOX) and an asker's verdict on an
answer (SB_FEEDBACK). The inbox and ingest publish them; deliver and route consume them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.item import Item


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reply(_Model):
    """A PM resolved an item with `reply: true`: deliver posts `text` back to the asker in the tool the item
    came from (contract 5's per-kind request) and tells the account owner. Subject
    `sb.outbox.reply.<item id>.<seq>`: one message per reply, so a retried publish is refused as a duplicate."""

    item_id: str
    seq: int  # the n-th reply on this item (the item's state version at the resolve)
    text: str
    by: str  # the PM's e-mail
    by_name: str | None = None
    team: str
    at: datetime
    notify_owner: bool = True
    item: Item  # the routed item: source, kind and the original payload's ids address the tool's API


class Feedback(_Model):
    """"Did this answer help?" from a Slack button or the signed feedback link. SB_FEEDBACK keeps the first
    verdict per item (`sb.feedback.<item id>`); route re-decides a `not_helpful` one without answer rules."""

    item_id: str
    verdict: Literal["helpful", "not_helpful"]
    via: Literal["slack", "link"]
    by: str | None = None  # Slack user id, when the click came from Slack
    article: str | None = None
    at: datetime
