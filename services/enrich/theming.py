"""Enrich's side of themes: the item's theme from the vectors the judge already computed (no second model
pass). One `ThemeStore` per encoder (a config change can swap the BM25 fallback's vocabulary, and centroids of
different encoders are never compared)."""

from __future__ import annotations

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

    async def store(self, encoder: str, dim: int) -> ThemeStore:
        key = (encoder, dim)
        if key not in self._stores:
            store = ThemeStore(self.kv, encoder, dim)
            await store.start()
            for old in self._stores.values():
                await old.stop()
            self._stores = {key: store}
        return self._stores[key]

    async def assign(
        self, encoder: str, item: Item, text: str, account: Account | None, judgement: Judgement,
        vector: np.ndarray, now: datetime,
    ) -> ThemeRef:
        store = await self.store(encoder, int(vector.shape[0]))
        area = judgement.area.id if judgement.area else UNKNOWN
        theme = await store.assign(area, vector, member_of(item, text, account), now)
        return theme_ref(theme)

    async def close(self) -> None:
        for store in self._stores.values():
            await store.stop()
