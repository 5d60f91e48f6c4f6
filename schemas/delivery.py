"""The delivery ledger (KV `sb_deliveries`): one entry per (item, target), written `pending` before an outbound
call and `sent` after it, so a redelivery of the same message never posts a second comment (docs/delivery.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

DeliveryStatus = Literal["pending", "sent", "failed", "skipped"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestRecord(_Model):
    """An outbound request as kept in a dead letter or the ledger: never the Authorization header or a secret."""

    method: str
    url: str
    headers: dict[str, str] = {}
    body: Any = None
    status: int | None = None  # the HTTP status answered, when there was one
    response: str | None = None  # the first bytes of the answer's body


class Delivery(_Model):
    """One delivery: target `answer` (the KB answer into the source tool), `notify.<team>` (Slack message to a
    team), `reply.<n>` (a PM's reply to the asker), `owner.<n>` (the account owner told of that reply)."""

    item_id: str
    target: str
    kind: str  # the request kind: zendesk | intercom | freshdesk | slack | standard | slack_webhook | none
    status: DeliveryStatus
    attempts: int = 0  # outbound attempts made (retries included)
    http_status: int | None = None
    last_error: str | None = None
    request_id: str  # the marker left in the comment, and the Standard Webhooks `webhook-id`
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    checked: bool = False  # an unknown outcome was resolved by looking for the marker in the tool
