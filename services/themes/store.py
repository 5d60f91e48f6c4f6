"""Themes in KV `sb_themes`, shared by several enrich processes: every change is a compare-and-set on the
entry's revision, retried on conflict, so the processes build one set of themes instead of forking it.

- Joining a theme: apply `clustering.join` to the latest `t.<id>` this process knows (from its watch or its own
  last write; read from KV when it knows none), update with `last=revision`; a conflict re-reads. One round trip
  per join while no other process wrote the theme in between.
  In a batch, the items that choose the same theme join it in one compare-and-set (`assign_batch`).
- Creating a theme: a compare-and-set of the area's index `a.<area>` first. A process that loses that race
  re-reads the index, loads the themes it had not seen, and decides again — so it joins the theme the winner
  just created instead of creating a duplicate of it.
- Merging when two centroids drift together: `services.themes.entries.merge` (also `switchboard themes merge`).

The entries and their compare-and-set primitives are in `services.themes.entries`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import numpy as np
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.theme import AreaIndex, Theme
from services.common import names
from services.common.kv_watch import follow
from services.common.logging import get_logger
from services.themes.cache import CentroidCache
from services.themes.clustering import (
    MERGE_THRESHOLD, Member, decode_vector, drift_check_due, join, join_threshold, nearest, new_theme, survivor_of, unit,
)
from services.themes.entries import (
    MAX_ATTEMPTS, MAX_HOPS, ThemeConflict, UnknownTheme, cas_index, merge, read_theme, resolve,
)

log = get_logger("switchboard.themes")

MISSING_WAIT_S = 1.0  # how long an id in an area's index may lack its entry (its creator is writing it)


class ThemeStore:
    """Assigns items to themes for one enrich process: the cache answers "which theme?", KV decides."""

    def __init__(self, kv: KeyValue, encoder: str, dim: int) -> None:
        self.kv = kv
        self.encoder = encoder
        self.cache = CentroidCache(encoder, dim)
        self.threshold = join_threshold(encoder)
        self._watch: asyncio.Task[None] | None = None
        self._creating: dict[str, asyncio.Lock] = {}
        self._latest: dict[str, tuple[Theme, int]] = {}  # the newest revision of each theme seen here

    def _seen(self, theme: Theme, revision: int) -> None:
        """A theme at a revision, from the watch or this process's own write: into the cache, and the start of
        the next join when it is the newest revision known here."""
        self.cache.apply(theme)
        known = self._latest.get(theme.id)
        if known is None or revision > known[1]:  # the watch may bring an older revision after our own write
            self._latest[theme.id] = (theme, revision)

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
            await follow(watcher, self._on_entry, loaded)
        finally:
            try:
                await watcher.stop()
            except Exception:  # noqa: BLE001 - the connection is closing anyway
                pass

    def _on_entry(self, entry: KeyValue.Entry) -> None:
        if entry.value:
            self._seen(Theme.model_validate_json(entry.value), entry.revision or 0)
        else:  # deleted or purged: read it again when it is needed
            self._latest.pop(entry.key.split(".", 1)[-1], None)

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
            chosen = self.choose(area, vector)
            if chosen is not None:
                theme = await self._join(chosen, vector, member, now)
                if theme is not None:
                    return await self._merge_if_drifted(theme)
                continue
            # One creation per area at a time in this process (other processes are held off by the index CAS):
            # a concurrent item of the same new topic then joins the theme instead of racing to create one.
            async with self._creating.setdefault(area, asyncio.Lock()):
                known = set(self.cache.seen)  # the themes this choice is made against
                if self.choose(area, vector) is not None:
                    continue
                created = await self._create(area, vector, member, now, known)
            if created is not None:
                return created
        raise ThemeConflict(area)

    async def assign_batch(self, requests: list[tuple[str, np.ndarray, Member]], now: datetime) -> list[Theme | BaseException]:
        """Assign a batch: the items choosing the same theme join it in ONE compare-and-set (each item gets the
        theme as of its own join, in batch order); themes are written concurrently; items that start a new theme
        go one by one after them (a later item of the same new topic then joins it)."""
        results: list[Theme | BaseException | None] = [None] * len(requests)
        vectors = [unit(np.asarray(v, dtype=np.float32)) for _, v, _ in requests]
        groups: dict[str, list[int]] = {}
        loners: list[int] = []
        for k, (area, _, _) in enumerate(requests):
            chosen = self.choose(area, vectors[k])
            (groups.setdefault(chosen, []) if chosen is not None else loners).append(k)

        async def group(theme_id: str, ks: list[int]) -> None:
            try:
                joined = await self._join_many(theme_id, [(vectors[k], requests[k][2]) for k in ks], now)
            except Exception as exc:  # noqa: BLE001 - each item of the group is retried by the consumer
                joined, error = None, exc
            else:
                error = None
            if joined is None:
                for k in ks:
                    if error is None:
                        loners.append(k)  # the theme is gone: decide again
                    else:
                        results[k] = error
                return
            for k, theme in zip(ks, joined, strict=True):
                results[k] = theme
            if any(drift_check_due(t.items) for t in joined):
                await self._merge_if_drifted(joined[-1])

        await asyncio.gather(*(group(t, ks) for t, ks in groups.items()))
        for k in sorted(loners):
            area, _, member = requests[k]
            try:
                results[k] = await self.assign(area, vectors[k], member, now)
            except Exception as exc:  # noqa: BLE001
                results[k] = exc
        return [r if r is not None else ThemeConflict("unassigned") for r in results]

    async def _join_many(self, theme_id: str, members: list[tuple[np.ndarray, Member]], now: datetime) -> list[Theme] | None:
        """Join several items to one theme in one compare-and-set; the theme after each item's join, in order.
        Follows a merged theme to its survivor; None when the theme is gone."""
        fresh = False  # the first attempt may start from what this process knows; after a conflict, from KV
        for _ in range(MAX_ATTEMPTS + MAX_HOPS):
            found = self._latest.get(theme_id) if not fresh else None
            if found is None:
                found = await read_theme(self.kv, theme_id)
            if found is None:
                self.cache.discard(theme_id)
                return None
            theme, revision = found
            if theme.merged_into is not None:
                self.cache.apply(theme)
                theme_id = theme.merged_into
                continue
            steps, current = [], theme
            for vector, member in members:
                current = join(current, vector, member, now)
                steps.append(current)
            if current is theme:  # every one of them was a redelivery
                return steps
            try:
                written = await self.kv.update(names.theme_key(theme_id), current.model_dump_json().encode(), last=revision)
            except KeyWrongLastSequenceError:
                fresh = True
                continue
            self._seen(current, written)
            return steps
        raise ThemeConflict(theme_id)

    async def _join(self, theme_id: str, vector: np.ndarray, member: Member, now: datetime) -> Theme | None:
        joined = await self._join_many(theme_id, [(vector, member)], now)
        return joined[-1] if joined else None

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
            revision = await self.kv.create(names.theme_key(theme.id), theme.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            found = await resolve(self.kv, theme.id)
            if found is None:
                return None
            theme, revision = found
        self._seen(theme, revision)  # the next join starts from it without waiting for the watch
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

