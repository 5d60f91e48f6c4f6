"""Scheduled digests: a task in every deliver process (`up`, `switchboard deliver`). Each tick, for each team
with `digest:` in teams.yaml, the due slot is computed from the clock (schedule.py); the process that creates
the lease `digest.<team>.<slot>` in KV `sb_schedule` builds the digest and publishes it on
`sb.outbox.digest.<team>.<slot>`, where deliver's outbox consumer posts it to the team's Slack webhook once.
Other processes (and this one, next tick or after a restart) find the lease and do nothing."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Callable

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.digest import DigestMessage, Lease
from services.common import names
from services.common.broker import publish_item
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.streams import schedule_bucket
from services.config.models import Config
from services.config.teams import TeamConfig
from services.digest.build import build_digest
from services.digest.reader import read_period
from services.digest.schedule import due_slot, parse_every, period_text, slot_token

log = get_logger("switchboard.digest")

TICK_S = 30.0
LEASE = timedelta(minutes=5)  # a claimed slot whose holder has not published by then is taken over


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def claim(kv: KeyValue, key: str, holder: str, now: datetime) -> int | None:
    """The lease's revision when this process holds it now, else None (someone sent it, or holds it)."""
    lease = Lease(state="claimed", by=holder, at=now, expires=now + LEASE).model_dump_json().encode()
    try:
        return await kv.create(key, lease)
    except KeyWrongLastSequenceError:
        pass
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None  # gone between the two calls (expired): the next tick tries again
    current = Lease.model_validate_json(entry.value or b"{}")
    if current.state == "sent" or current.expires > now:
        return None
    try:  # the holder died before publishing: take over, compare-and-set so only one taker wins
        return await kv.update(key, lease, last=entry.revision)
    except KeyWrongLastSequenceError:
        return None


_told: set[str] = set()  # leases found taken, logged once per process (a restart says it saw the slot done)


async def send_if_due(js: JetStreamContext, kv: KeyValue, team: TeamConfig, config: Config, settings: Settings,
                      now: datetime, holder: str) -> str | None:
    """Publish the team's digest for its due slot if this process wins the slot; the slot token, else None."""
    assert team.digest is not None
    every = team.digest.every
    schedule = parse_every(every)
    since = team.digest.since or period_text(schedule)
    slot = due_slot(schedule, now)
    token = slot_token(slot)
    key = names.schedule_key(team.id, token)
    revision = await claim(kv, key, holder, now)
    if revision is None:
        if key not in _told:
            _told.add(key)
            log.info("digest.slot_taken", team=team.id, slot=token)
        return None
    items, feedback = await read_period(js, since, slot)
    area_teams = {a.id: a.team for a in config.areas.areas}
    digest = build_digest(items, feedback, since, team.id, slot, area_teams)
    message = DigestMessage(team=team.id, slot=token, every=every, at=now, by=holder, digest=digest)
    subject = names.digest_subject(team.id, token)
    stored = await publish_item(js, subject, message.model_dump_json().encode(), subject, settings.publish_timeout_s)
    sent = Lease(state="sent", by=holder, at=now, expires=now).model_dump_json().encode()
    await kv.update(key, sent, last=revision)
    log.info("digest.published", team=team.id, slot=token, items=digest.items, duplicate=stored.duplicate)
    return token


async def run_schedule(js: JetStreamContext, current: Callable[[], Config], settings: Settings, stop: asyncio.Event,
                       clock: Callable[[], datetime] = _utcnow, tick_s: float = TICK_S, holder: str | None = None) -> None:
    """Until `stop`: every `tick_s`, send each team's due digest (once across all processes)."""
    kv = await schedule_bucket(js, settings)
    who = holder or holder_name()
    while not stop.is_set():
        config = current()
        for team in config.teams.teams:
            if team.digest is None:
                continue
            try:
                await send_if_due(js, kv, team, config, settings, clock(), who)
            except Exception as exc:  # noqa: BLE001 - one team's failure (broker away) must not stop the others
                log.warning("digest.failed", team=team.id, error=str(exc)[:300])
        try:
            await asyncio.wait_for(stop.wait(), tick_s)
        except asyncio.TimeoutError:
            pass
