"""Theme entries in KV `sb_themes`, every change a compare-and-set on the entry's revision (retried on conflict):
read and resolve (through merge pointers), the area index, rename, and merge.

A merge marks the merged theme `merged_into: <survivor>` first (nobody joins it after that: a joiner follows the
pointer), then the survivor absorbs it once (`absorbed` makes a repeat a no-op), then it leaves the area's index.
Items keep their theme id; reports resolve it through the pointer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.theme import AreaIndex, Theme
from services.common import names
from services.themes.clustering import absorb

MAX_ATTEMPTS = 50  # compare-and-set retries before giving up (a transient error: the item is redelivered)
MAX_HOPS = 16  # merged_into pointers followed


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
