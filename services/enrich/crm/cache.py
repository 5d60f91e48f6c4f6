"""TtlCache: the bounded LRU cache with a TTL per entry that CrmResolver keeps CRM hits and misses in."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable

ABSENT = object()


class TtlCache:
    """Bounded LRU cache with a TTL per entry, over an injected clock. Stores hits and misses (None)."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> Any:
        """The cached value (None for a cached miss) or `ABSENT`."""
        entry = self._data.get(key)
        if entry is None:
            return ABSENT
        expires, value = entry
        if self.clock() >= expires:
            del self._data[key]
            return ABSENT
        self._data.move_to_end(key)
        return value

    def put(self, key: str, value: Any, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._data[key] = (self.clock() + ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
