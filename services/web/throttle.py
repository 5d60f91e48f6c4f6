"""Failed-login throttle, pure (the clock is passed in): at most `limit` failures per (e-mail, client) in a
sliding `window`; past that, logins for that pair are refused until the oldest failure ages out."""

from __future__ import annotations

from collections import deque


class LoginThrottle:
    def __init__(self, limit: int = 5, window: float = 300.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def retry_after(self, email: str, client: str, now: float) -> float:
        """Seconds until this pair may try again; 0 when it may now."""
        failures = self._recent((email.strip().lower(), client), now)
        if len(failures) < self.limit:
            return 0.0
        return max(0.0, failures[0] + self.window - now)

    def failed(self, email: str, client: str, now: float) -> None:
        if len(self._failures) >= self.max_keys:  # bounded memory under a spray of e-mails
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault((email.strip().lower(), client), deque()).append(now)

    def succeeded(self, email: str, client: str) -> None:
        self._failures.pop((email.strip().lower(), client), None)
