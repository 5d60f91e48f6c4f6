"""Errors are classified once, here, for every worker stage.

    StageError
    ├── TransientError   the world was not ready (broker timeout, CRM API down): retry with a growing delay,
    │                    dead-letter after `max_deliver` attempts
    └── PermanentError   this message can never succeed (not an item, invalid schema): dead-letter now

Any other exception is a bug in our code: treated as transient (a fix and a redelivery may cure it), so it
reaches the dead-letter stream after `max_deliver` attempts with the traceback's last line as the reason,
while the rest of the stream flows on.
"""

from __future__ import annotations

import asyncio

from nats.errors import ConnectionClosedError, NoRespondersError, TimeoutError as NatsTimeout


class StageError(Exception):
    pass


class TransientError(StageError):
    pass


class PermanentError(StageError):
    pass


_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    TransientError,
    NatsTimeout,
    NoRespondersError,
    ConnectionClosedError,
    asyncio.TimeoutError,
    ConnectionError,
)


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PermanentError)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT_TYPES)


def retry_delay(num_delivered: int, base: float = 0.5, cap: float = 30.0) -> float:
    """NAK delay after the n-th failed delivery: 0.5, 1, 2, 4 ... seconds, capped."""
    return float(min(cap, base * (2 ** max(0, num_delivered - 1))))


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".strip().rstrip(":")
