"""Tests wait on conditions, never on sleeps: poll a predicate (plain or async) until it holds."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable


async def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """The first truthy value of `check()` (awaited when it is a coroutine); AssertionError after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
