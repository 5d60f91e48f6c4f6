"""Following a JetStream KV bucket: every entry of a watch, and a future for "caught up"."""

from __future__ import annotations

import asyncio
from typing import Any, Callable


async def follow(watcher: Any, on_entry: Callable[[Any], None], caught_up: asyncio.Future[None]) -> None:
    """Hand every entry of `watcher` (puts and deletes) to `on_entry` for as long as the watch runs.

    `caught_up` resolves at the end of the initial values, or when the watch ends before that (a closing
    connection), so that nobody waits on it forever. Stopping the watcher is the caller's business."""
    try:
        async for entry in watcher:
            if entry is None:  # nats.py's marker: the initial values are all delivered
                if not caught_up.done():
                    caught_up.set_result(None)
                continue
            on_entry(entry)
    finally:
        if not caught_up.done():
            caught_up.set_result(None)
