"""A circuit breaker: a pure state machine over an injected clock (no I/O, no sleeping, no threads).

    closed ──N consecutive failures──▶ open ──cool-down elapsed──▶ half-open ──probe succeeds──▶ closed
                                        ▲                              │
                                        └────────probe fails───────────┘

While open, `allow()` answers False at once, so callers skip the protected call instead of waiting on a service
that is down. After the cool-down, exactly one probe is let through at a time (half-open); its outcome closes or
re-opens the circuit. A probe whose outcome is never reported (the caller was cancelled) frees the slot after
another cool-down, so a lost probe cannot hold the breaker half-open for ever.
"""

from __future__ import annotations

import time
from typing import Callable, Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown_s < 0:
            raise ValueError("cooldown_s must not be negative")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.failures = 0  # consecutive
        self.opened_at: float | None = None
        self.probe_started: float | None = None
        self.times_opened = 0

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May the protected call go ahead now? In half-open, True for one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "open":
            return False
        now = self.clock()
        if self.probe_started is not None and now - self.probe_started < self.cooldown_s:
            return False  # a probe is in flight
        self.probe_started = now
        return True

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probe_started = None

    def record_failure(self) -> None:
        self.failures += 1
        if self.opened_at is not None:
            # a failed probe (or a late failure while open): open again for a full cool-down
            self._open()
        elif self.failures >= self.failure_threshold:
            self._open()

    def retry_in(self) -> float:
        """Seconds until the next probe may go out (0 when closed or half-open)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown_s - self.clock())

    def _open(self) -> None:
        self.opened_at = self.clock()
        self.probe_started = None
        self.times_opened += 1
