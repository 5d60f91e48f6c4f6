"""Keeps an InboxIndex live: ordered consumers on SB_QUEUES and SB_ACTIVITY (from the first message, then
every new one) and a watch on the state bucket. `start` returns once all three have caught up with what the
streams held when it was called, so the first request already sees every item."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any, Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.kv import KeyValue
from pydantic import ValidationError

from schemas.inbox import ActivityEvent, ItemState
from schemas.item import Item
from services.common import names
from services.common.kv_watch import follow
from services.common.logging import get_logger
from services.inbox.index import InboxIndex

log = get_logger("switchboard.inbox")


class Feed:
    def __init__(self, js: JetStreamContext, kv: KeyValue, index: InboxIndex) -> None:
        self.js = js
        self.kv = kv
        self.index = index
        self._subs: list[Any] = []
        self._watch_task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 60.0) -> None:
        queues = await self._follow(names.QUEUES, self._on_item)
        activity = await self._follow(names.ACTIVITY, self._on_event)
        watcher = await self.kv.watchall()
        states_ready = asyncio.get_running_loop().create_future()
        self._watch_task = asyncio.create_task(follow(watcher, self._on_state, states_ready), name="inbox-state-watch")
        self._subs.append(watcher)
        await asyncio.wait_for(asyncio.gather(queues, activity, states_ready), timeout)
        log.info("inbox.index_ready", items=len(self.index))

    async def stop(self) -> None:
        for sub in self._subs:
            with suppress(Exception):
                await (sub.stop() if hasattr(sub, "stop") else sub.unsubscribe())
        if self._watch_task:
            self._watch_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._watch_task

    async def _follow(self, stream: str, handle: Callable[[bytes], None]) -> asyncio.Future[None]:
        """An ordered push consumer over the whole stream; the future resolves once it has caught up."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        info = await self.js.stream_info(stream)
        if info.state.messages == 0:
            ready.set_result(None)

        async def on_msg(msg: Msg) -> None:
            try:
                handle(msg.data)
            except (ValidationError, ValueError) as exc:  # a foreign message on our subject: skip, say so
                log.warning("inbox.bad_message", subject=msg.subject, error=str(exc)[:200])
            if not ready.done() and msg.metadata.num_pending == 0:
                ready.set_result(None)

        sub = await self.js.subscribe(names.all_stream_filter(stream), stream=stream, cb=on_msg,
                                      ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        self._subs.append(sub)
        return ready

    def _on_item(self, data: bytes) -> None:
        self.index.add_item(Item.model_validate_json(data))

    def _on_event(self, data: bytes) -> None:
        self.index.add_event(ActivityEvent.model_validate_json(data))

    def _on_state(self, entry: Any) -> None:
        if entry.value:
            try:
                self.index.set_state(ItemState.model_validate_json(entry.value), entry.revision or 0)
            except ValidationError as exc:
                log.warning("inbox.bad_state", key=entry.key, error=str(exc)[:200])
