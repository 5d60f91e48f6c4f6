"""Themes in KV `sb_themes`, shared by several enrich processes: every change is a compare-and-set on the
entry's revision, retried on conflict, so the processes build one set of themes instead of forking it.

- Joining a theme: read `t.<id>`, apply `clustering.join`, update with `last=revision`; a conflict re-reads.
- Creating a theme: a compare-and-set of the area's index `a.<area>` first. A process that loses that race
  re-reads the index, loads the themes it had not seen, and decides again — so it joins the theme the winner
  just created instead of creating a duplicate of it.
- Merging (drift or `switchboard themes merge`): the merged theme is marked `merged_into` first (nobody joins it
  after that: a joiner follows the pointer), then the survivor absorbs it once (`absorbed` makes it idempotent),
  then it leaves the area's index. Items keep their theme id; reports resolve it through the pointer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import numpy as np
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.theme import AreaIndex, Theme
from services.common import names
from services.common.logging import get_logger
from services.themes.cache import CentroidCache
from services.themes.clustering import (
    MERGE_THRESHOLD, Member, absorb, decode_vector, drift_check_due, join, join_threshold, nearest, new_theme, survivor_of, unit,
)

log = get_logger("switchboard.themes")

MAX_ATTEMPTS = 50  # compare-and-set retries before giving up (a transient error: the item is redelivered)
MAX_HOPS = 16  # merged_into pointers followed
MISSING_WAIT_S = 1.0  # how long an id in an area's index may lack its entry (its creator is writing it)


class ThemeConflict(RuntimeError):
    """Too many concurrent changes to one theme; the caller retries later."""


class UnknownTheme(KeyError):
    pass


async def read_theme(kv: KeyValue, theme_id: str) -> tuple[Theme, int] | None:
    try:
        entry = await kv.get(names.theme_key(theme_id))
    except KeyNotFoundError:
        return None
    if entry.value is None:
        return None
    return Theme.model_validate_json(entry.value), entry.revision or 0


async def resolve(kv: KeyValue, theme_id: str) -> tuple[Theme, int] | None:
    """The theme an id stands for now (following merge pointers), with its revision."""
    for _ in range(MAX_HOPS):
        found = await read_theme(kv, theme_id)
        if found is None or found[0].merged_into is None:
            return found
        theme_id = found[0].merged_into
    return None


async def cas_theme(kv: KeyValue, theme_id: str, change: Callable[[Theme], Theme | None]) -> Theme:
    """Apply `change` to the current entry with compare-and-set, retrying on conflict. `change` returning
    None (or the same object) writes nothing."""
    for _ in range(MAX_ATTEMPTS):
        found = await read_theme(kv, theme_id)
        if found is None:
            raise UnknownTheme(theme_id)
        theme, revision = found
        updated = change(theme)
        if updated is None or updated is theme:
            return theme
        try:
            await kv.update(names.theme_key(theme_id), updated.model_dump_json().encode(), last=revision)
            return updated
        except KeyWrongLastSequenceError:
            continue
    raise ThemeConflict(theme_id)


async def cas_index(kv: KeyValue, area: str, change: Callable[[AreaIndex], AreaIndex | None]) -> AreaIndex:
    key = names.theme_area_key(area)
    for _ in range(MAX_ATTEMPTS):
        try:
            entry = await kv.get(key)
            index, revision = AreaIndex.model_validate_json(entry.value or b"{}"), entry.revision or 0
        except KeyNotFoundError:
            index, revision = AreaIndex(area=area), 0
        updated = change(index)
        if updated is None:
            return index
        try:
            payload = updated.model_dump_json().encode()
            if revision == 0:
                await kv.create(key, payload)
            else:
                await kv.update(key, payload, last=revision)
            return updated
        except KeyWrongLastSequenceError:
            continue
    raise ThemeConflict(area)


async def rename(kv: KeyValue, theme_id: str, label: str, now: datetime) -> Theme:
    current = await resolve(kv, theme_id)
    if current is None:
        raise UnknownTheme(theme_id)
    return await cas_theme(kv, current[0].id, lambda t: t.model_copy(
        update={"label": label, "label_fixed": True, "updated_at": now}))


async def merge(kv: KeyValue, merged_id: str, into_id: str, now: datetime) -> Theme:
    """Merge theme `merged_id` into `into_id` (the survivor); returns the survivor. Safe to repeat."""
    into = await resolve(kv, into_id)
    if into is None:
        raise UnknownTheme(into_id)
    survivor_id = into[0].id
    if survivor_id == merged_id:
        raise ValueError(f"{merged_id} is already {into_id}")

    def mark(theme: Theme) -> Theme | None:
        if theme.merged_into == survivor_id:
            return None
        if theme.merged_into is not None:
            raise ValueError(f"{merged_id} was already merged into {theme.merged_into}")
        return theme.model_copy(update={"merged_into": survivor_id, "updated_at": now})

    merged = await cas_theme(kv, merged_id, mark)
    survivor = await cas_theme(kv, survivor_id, lambda s: absorb(s, merged, now))
    await cas_index(kv, merged.area, lambda ix: ix.model_copy(update={"ids": [i for i in ix.ids if i != merged_id]})
                    if merged_id in ix.ids else None)
    return survivor


class ThemeStore:
    """Assigns items to themes for one enrich process: the cache answers "which theme?", KV decides."""

    def __init__(self, kv: KeyValue, encoder: str, dim: int) -> None:
        self.kv = kv
        self.encoder = encoder
        self.cache = CentroidCache(encoder, dim)
        self.threshold = join_threshold(encoder)
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load every theme and keep the cache fresh with a KV watch (returns once the load is done)."""
        watcher = await self.kv.watch(names.THEME_KEYS)
        loaded = asyncio.get_running_loop().create_future()
        self._watch = asyncio.create_task(self._follow(watcher, loaded), name="themes-watch")
        await loaded

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None

    async def _follow(self, watcher: KeyValue.KeyWatcher, loaded: asyncio.Future[None]) -> None:
        try:
            async for entry in watcher:
                if entry is None:  # the end of the initial values
                    if not loaded.done():
                        loaded.set_result(None)
                    continue
                if entry.value:
                    self.cache.apply(Theme.model_validate_json(entry.value))
        finally:
            if not loaded.done():
                loaded.set_result(None)
            try:
                await watcher.stop()
            except Exception:  # noqa: BLE001 - the connection is closing anyway
                pass

    def choose(self, area: str, vector: np.ndarray) -> str | None:
        """The live theme of `area` that `vector` joins, or None (start a new one). Pure CPU, in-memory."""
        centroids = self.cache.area(area)
        best = nearest(centroids.matrix, vector)
        return centroids.ids[best.index] if best.index >= 0 and best.similarity >= self.threshold else None

    def drifted_into(self, theme: Theme, centroid: np.ndarray) -> str | None:
        """Another live theme of the area whose centroid is now within the merge threshold, if any."""
        centroids = self.cache.area(theme.area)
        if len(centroids) < 2:
            return None
        sims = centroids.matrix @ centroid
        own = centroids.rows.get(theme.id)
        if own is not None:
            sims[own] = -1.0
        best = int(np.argmax(sims))
        return centroids.ids[best] if sims[best] >= MERGE_THRESHOLD else None

    async def assign(self, area: str, vector: np.ndarray, member: Member, now: datetime) -> Theme:
        vector = unit(np.asarray(vector, dtype=np.float32))
        for _ in range(MAX_ATTEMPTS):
            known = set(self.cache.seen)  # the themes this choice is made against
            chosen = self.choose(area, vector)
            if chosen is not None:
                theme = await self._join(chosen, vector, member, now)
                if theme is not None:
                    return await self._merge_if_drifted(theme)
                continue
            created = await self._create(area, vector, member, now, known)
            if created is not None:
                return created
        raise ThemeConflict(area)

    async def _join(self, theme_id: str, vector: np.ndarray, member: Member, now: datetime) -> Theme | None:
        current = await resolve(self.kv, theme_id)
        if current is None:
            self.cache.discard(theme_id)
            return None
        try:
            theme = await cas_theme(self.kv, current[0].id, lambda t: None if t.merged_into else join(t, vector, member, now))
        except UnknownTheme:
            return None
        if theme.merged_into is not None:  # merged meanwhile: decide again
            self.cache.apply(theme)
            return None
        self.cache.apply(theme)
        return theme

    async def _create(self, area: str, vector: np.ndarray, member: Member, now: datetime, known: set[str]) -> Theme | None:
        """A new theme, or None when the area's index holds themes the choice did not know (decide again)."""
        theme = new_theme(area, vector, member, self.encoder, now)
        unseen: list[str] = []

        def reserve(index: AreaIndex) -> AreaIndex | None:
            unseen.clear()
            if theme.id in index.ids:
                return None  # this item's theme exists already (a retry after a crash)
            unseen.extend(i for i in index.ids if i not in known)
            if unseen:
                return None
            return index.model_copy(update={"ids": [*index.ids, theme.id]})

        await cas_index(self.kv, area, reserve)
        if unseen:
            await self._load([i for i in unseen if i not in self.cache.seen])
            return None
        try:
            await self.kv.create(names.theme_key(theme.id), theme.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            found = await resolve(self.kv, theme.id)
            if found is None:
                return None
            theme = found[0]
        self.cache.apply(theme)
        log.debug("theme.created", id=theme.id, area=area, label=theme.label)
        return theme

    async def _load(self, ids: list[str]) -> None:
        """Put the given themes in the cache, waiting a little for entries still being written; an id whose
        entry never comes (its creator died between the index and the entry) is remembered as seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MISSING_WAIT_S
        pending = list(ids)
        while pending:
            still = []
            for theme_id in pending:
                found = await read_theme(self.kv, theme_id)
                if found is None:
                    still.append(theme_id)
                else:
                    self.cache.apply(found[0])
            pending = still
            if pending and loop.time() > deadline:
                for theme_id in pending:
                    self.cache.mark_seen(theme_id)
                log.warning("theme.missing_entries", ids=pending)
                break
            if pending:
                await asyncio.sleep(0.02)

    async def _merge_if_drifted(self, theme: Theme) -> Theme:
        if not drift_check_due(theme.items):
            return theme
        other = self.drifted_into(theme, unit(decode_vector(theme.centroid)))
        if other is None:
            return theme
        found = await resolve(self.kv, other)
        if found is None or found[0].id == theme.id:
            return theme
        survivor, merged = survivor_of(theme, found[0])
        try:
            result = await merge(self.kv, merged.id, survivor.id, theme.updated_at)
        except (ValueError, UnknownTheme):
            return theme
        self.cache.discard(merged.id)
        self.cache.apply(result)
        log.info("theme.merged", merged=merged.id, into=result.id, items=result.items, label=result.label, why="drift")
        return result

