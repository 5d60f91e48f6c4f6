"""Exactly one delivery per (item, target), through crashes, redeliveries and replays.

    no entry / failed ──write pending (create or CAS)──▶ call ──▶ sent      (a redelivery then does nothing)
                                                          └────▶ failed    (the consumer retries or dead-letters;
                                                                            a DLQ replay may try again)
    pending (the process died mid-call: outcome unknown) ──▶ look for the marker first where the tool's API
            lets us (zendesk, intercom, freshdesk); found → sent without posting; else post again
            (standard: same webhook-id, the receiver dedups; slack: may repeat, see docs/delivery.md)

A `pending` entry younger than `in_flight_s` (the longest one call with its retries can take) may be someone
else's call in progress: we wait until it is older, read again, and go on from what it says then.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Callable

from schemas.delivery import Delivery
from services.common.errors import PermanentError
from services.deliver import metrics
from services.deliver.ledger import Ledger
from services.deliver.plans import Planned, request_id
from services.outbound.client import OutboundClient
from services.outbound.errors import OutboundError


class Misconfigured(PermanentError):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


async def deliver_once(ledger: Ledger, client: OutboundClient, p: Planned, in_flight_s: float,
                       now: Callable[[], datetime] = _now) -> tuple[Delivery, bool]:
    """(the delivery's ledger entry, whether this call changed it)."""
    entry, revision = await ledger.read(p.item_id, p.target)
    if entry is not None and entry.status == "pending":
        age = (now() - entry.updated_at).total_seconds()
        if age < in_flight_s:  # possibly another worker's call, still running: let it finish first
            await asyncio.sleep(in_flight_s - age)
            entry, revision = await ledger.read(p.item_id, p.target)
    if entry is not None and entry.status in ("sent", "skipped"):
        metrics.count(entry.kind, "already")
        return entry, False
    t = now()
    base = entry or Delivery(item_id=p.item_id, target=p.target, kind=p.kind, status="pending",
                             request_id=request_id(p.item_id, p.target), created_at=t, updated_at=t)
    if p.request is None:
        status = "skipped" if p.skip else "failed"
        done = base.model_copy(update={"status": status, "last_error": p.skip or p.error, "updated_at": t})
        await ledger.write(done, revision)
        metrics.count(p.kind, status)
        if p.error:
            raise Misconfigured(p.error)
        return done, True
    look_first = entry is not None  # an earlier attempt (pending or failed) may have been applied
    pending = base.model_copy(update={"status": "pending", "kind": p.kind, "updated_at": t})
    revision = await ledger.write(pending, revision)
    try:
        outcome = await client.deliver(p.request, look_first=look_first)
    except OutboundError as exc:
        failed = pending.model_copy(update={
            "status": "failed", "attempts": pending.attempts + getattr(exc, "attempts", 0),
            "http_status": exc.status, "last_error": str(exc)[:300], "updated_at": now()})
        await ledger.write(failed, revision)
        metrics.count(p.kind, "failed")
        raise
    done_at = now()
    sent = pending.model_copy(update={
        "status": "sent", "attempts": pending.attempts + outcome.attempts, "http_status": outcome.status,
        "last_error": None, "updated_at": done_at, "sent_at": done_at, "checked": outcome.found_by_lookup})
    await ledger.write(sent, revision)
    metrics.count(p.kind, "found" if outcome.found_by_lookup else "sent")
    return sent, True
