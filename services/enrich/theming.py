"""Enrich's side of themes: the item's theme from the vectors the judge already computed (no second model
pass). One `ThemeStore` per encoder (a config change can swap the BM25 fallback's vocabulary, and centroids of
different encoders are never compared)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import numpy as np
from nats.js.kv import KeyValue

from schemas.item import Account, Item, ThemeRef
from schemas.theme import Theme
from services.enrich.judge import UNKNOWN, Judgement
from services.themes.clustering import Member
from services.themes.store import ThemeStore


def theme_ref(theme: Theme) -> ThemeRef:
    return ThemeRef(id=theme.id, label=theme.label, area=theme.area, items=theme.items,
                    accounts=len(theme.accounts), arr=theme.arr)


def member_of(item: Item, text: str, account: Account | None) -> Member:
    return Member(item_id=item.id, text=text, account_id=account.id if account else None,
                  arr=account.arr if account else None)


class Theming:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self._stores: dict[tuple[str, int], ThemeStore] = {}
        self._lock = asyncio.Lock()

    async def store(self, encoder: str, dim: int) -> ThemeStore:
        key = (encoder, dim)
        if key in self._stores:
            return self._stores[key]
        async with self._lock:  # the first items of a batch arrive together: load the themes once
            if key in self._stores:
                return self._stores[key]
            store = ThemeStore(self.kv, encoder, dim)
            await store.start()
            for old in self._stores.values():
                await old.stop()
            self._stores = {key: store}
        return self._stores[key]

    async def assign_batch(
        self, encoder: str, batch: list[tuple[Item, str, Account | None, Judgement]], vectors: np.ndarray,
        now: datetime,
    ) -> list[ThemeRef | BaseException]:
        """Each item's theme (as of its own join), or the error that kept it from one (the item is retried)."""
        if not batch:
            return []
        store = await self.store(encoder, int(vectors.shape[1]))
        requests = [(judgement.area.id if judgement.area else UNKNOWN, vectors[row], member_of(item, text, account))
                    for row, (item, text, account, judgement) in enumerate(batch)]
        themes = await store.assign_batch(requests, now)
        return [t if isinstance(t, BaseException) else theme_ref(t) for t in themes]

    async def close(self) -> None:
        for store in self._stores.values():
            await store.stop()
