"""The config a running worker decides with, switched to a newly published version without a restart.

A stage gives `LiveConfig` a `build(config) -> T` (route: the compiled rules; enrich: the judge). `follow()`
polls the `current` key of sb_config once a second; on a new version it loads the files, builds T in a thread,
and only then swaps one reference — so a batch (which takes `current` once at its start) is never judged or
decided with half of one version and half of another. Built versions are kept (the last few), so route can
decide an item with the very version enrich judged it with (`Item.config_version`).

Polling instead of a KV watcher: it survives reconnects and broker restarts with nothing to re-create, and one
small read a second per worker is nothing next to the 5 s the contract allows.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Generic, TypeVar

from nats.js.kv import KeyValue

from services.common.errors import describe
from services.common.logging import get_logger
from services.config.errors import ConfigError
from services.config.models import Config
from services.config.versions import UnknownVersion, current_version, load_version

T = TypeVar("T")
log = get_logger("switchboard.config")

POLL_S = 1.0
KEEP = 4


class LiveConfig(Generic[T]):
    def __init__(self, build: Callable[[Config], T], config: Config, built: T | None = None, keep: int = KEEP) -> None:
        self._build = build
        self._keep = keep
        self._built: OrderedDict[str, tuple[Config, T]] = OrderedDict()
        self._version = config.version
        self._built[config.version] = (config, built if built is not None else build(config))

    @property
    def version(self) -> str:
        return self._version

    @property
    def current(self) -> tuple[Config, T]:
        """(config, built) of the current version: take it once per batch."""
        return self._built[self._version]

    def get(self, version: str | None) -> tuple[Config, T] | None:
        return self._built.get(version) if version else None

    async def load(self, kv: KeyValue, version: str, cache: Path) -> tuple[Config, T]:
        """Build a published version (kept for later); raises UnknownVersion or ConfigError."""
        if version in self._built:
            return self._built[version]
        config = await load_version(kv, version, cache)
        built = await asyncio.get_running_loop().run_in_executor(None, self._build, config)
        self._built[version] = (config, built)
        while len(self._built) > self._keep:
            oldest = next(iter(self._built))
            if oldest == self._version:
                self._built.move_to_end(oldest)
                continue
            self._built.popitem(last=False)
        return config, built

    async def switch_to(self, kv: KeyValue, version: str, cache: Path) -> None:
        await self.load(kv, version, cache)
        previous, self._version = self._version, version  # the one reference every new batch reads
        self._built.move_to_end(version)
        log.info("config.switched", version=version, previous=previous)

    async def follow(self, kv: KeyValue, cache: Path, stop: asyncio.Event, poll_s: float = POLL_S) -> None:
        """Until `stop`: switch to each newly published `current` version."""
        failed: str | None = None
        while not stop.is_set():
            try:
                latest = await current_version(kv)
                if latest and latest != self._version and latest != failed:
                    await self.switch_to(kv, latest, cache)
            except (UnknownVersion, ConfigError, ValueError) as exc:  # a broken version: keep deciding with the one we have
                failed = latest
                log.error("config.switch_failed", version=latest, error=describe(exc))
            except Exception as exc:  # noqa: BLE001 - broker away: try again on the next tick
                log.warning("config.poll_failed", error=describe(exc))
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll_s)
            except asyncio.TimeoutError:
                pass
