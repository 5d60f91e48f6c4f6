"""Item state in KV `sb_item_state`: read an item's state, and commit a change as a compare-and-set on the
entry's revision (create for an item's first change, update with the last revision after), then publish its
activity event and, for `resolve` with `reply: true`, the PM's reply for deliver.

A change whose read is stale (someone else changed the item between our read and our write) loses the
compare-and-set and is a Conflict (HTTP 409): of N concurrent changes exactly one wins, and every change that
won has exactly one activity event (`Nats-Msg-Id` = `<item id>.<version>`, so a retried publish is not a
second event).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Callable

from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from schemas.inbox import ActionName, ActivityEvent, ItemState
from schemas.item import Item
from schemas.outbox import Reply
from services.common import names
from services.common.broker import publish_item
from services.config.teams import TeamsFile
from services.inbox.state import Actor, Conflict, apply, initial_state

PUBLISH_TIMEOUT = 5.0


class StateStore:
    def __init__(self, js: JetStreamContext, kv: KeyValue, teams: TeamsFile) -> None:
        self.js = js
        self.kv = kv
        self.teams = teams

    async def read(self, item: Item) -> tuple[ItemState, int]:
        """The item's state and its entry's revision (0 = no entry yet: the initial state)."""
        try:
            entry = await self.kv.get(names.kv_token(item.id))
        except (KeyNotFoundError, KeyDeletedError):
            return initial_state(item, self.teams), 0
        if entry.value is None:
            return initial_state(item, self.teams), 0
        return ItemState.model_validate_json(entry.value), entry.revision or 0

    async def change(
        self, item: Item, action: ActionName, actor: Actor, body: dict[str, Any], now: datetime | None = None,
        check: Callable[[ItemState], None] | None = None,
    ) -> tuple[ItemState, int, ActivityEvent]:
        """Apply one change; returns the new state, its KV revision and the event. Conflict when it does not
        apply to the current state or someone else changed the item meanwhile; Invalid for bad arguments. `check` sees the current state first and may raise (permissions)."""
        now = now or datetime.now(UTC)
        state, revision = await self.read(item)
        if check is not None:
            check(state)
        after, event = apply(state, item, action, actor, body, self.teams, now)
        payload = after.model_dump_json().encode()
        key = names.kv_token(item.id)
        try:
            if revision == 0:
                new_revision = await self.kv.create(key, payload)
            else:
                new_revision = await self.kv.update(key, payload, last=revision)
        except KeyWrongLastSequenceError:
            raise Conflict("the item was changed by someone else meanwhile: reload it and try again") from None
        await self._publish(names.activity_subject(state.team, item.id), event.model_dump_json().encode(),
                            f"{item.id}.{after.version}")
        if event.action == "resolve" and event.reply and event.note:
            reply = Reply(item_id=item.id, seq=after.version, text=event.note, by=actor.email, by_name=actor.name,
                          team=after.team, at=now, item=item)
            await self._publish(names.outbox_subject("reply", item.id, str(after.version)),
                                reply.model_dump_json().encode(), f"reply.{item.id}.{after.version}")
        return after, new_revision, event

    async def _publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        """The state is already committed: retry the event's publish for a bounded time (a duplicate of a
        publish that did land is refused by the server, so a retry never makes a second event)."""
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(30), wait=wait_exponential(0.1, max=2),
            retry=retry_if_exception_type((TimeoutError, OSError)), reraise=True,
        ):
            with attempt:
                await publish_item(self.js, subject, payload, msg_id, PUBLISH_TIMEOUT)
