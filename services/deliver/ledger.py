"""The delivery ledger in KV `sb_deliveries`: key `delivery_key(item, target)`, value a `Delivery`.
Created with `create` (fails when the key exists) and changed with compare-and-set on the revision, so two
workers holding the same message cannot both believe they own its delivery."""

from __future__ import annotations

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.delivery import Delivery
from services.common import names
from services.common.errors import TransientError


class Conflict(TransientError):
    """Someone else changed this delivery in between: retry the message (it will see their outcome)."""


class Ledger:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def read(self, item_id: str, target: str) -> tuple[Delivery | None, int | None]:
        try:
            entry = await self.kv.get(names.delivery_key(item_id, target))
        except KeyNotFoundError:
            return None, None
        if not entry.value:
            return None, None
        return Delivery.model_validate_json(entry.value), entry.revision

    async def write(self, d: Delivery, revision: int | None) -> int:
        """Create (revision None) or compare-and-set; Conflict when the entry changed since it was read."""
        key = names.delivery_key(d.item_id, d.target)
        data = d.model_dump_json().encode()
        try:
            if revision is None:
                return await self.kv.create(key, data)
            return await self.kv.update(key, data, last=revision)
        except KeyWrongLastSequenceError:
            raise Conflict(f"delivery {key} changed concurrently") from None

    async def for_item(self, item_id: str) -> list[Delivery]:
        """Every delivery of one item (for `switchboard trace`): a watcher on `<item>.>`, initial values only."""
        watcher = await self.kv.watch(names.kv_token(item_id) + ".>", ignore_deletes=True)
        out: list[Delivery] = []
        try:
            async for entry in watcher:
                if entry is None:  # end of the current values
                    break
                if entry.value:
                    out.append(Delivery.model_validate_json(entry.value))
        finally:
            await watcher.stop()
        return sorted(out, key=lambda d: d.created_at)
