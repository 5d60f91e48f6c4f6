"""The account directory, kept in a NATS KV bucket.

Keys: `id.<account id>` → the account JSON; `ext.<external id>` and `domain.<domain>` → the account id.
Fed by accounts.csv (seed), `switchboard accounts import`, and CRM events (HubSpot, Salesforce, Segment
group, native `account.*` events).
"""

from __future__ import annotations

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.item import Account, AccountUpdate, Item
from services.common import names
from services.config.models import AccountRow
from services.enrich.matching import lookup_keys


def account_from_row(row: AccountRow) -> Account:
    return Account(
        id=row.account_id,
        name=row.name,
        domain=row.domain.lower() if row.domain else None,
        arr=row.arr,
        plan=row.plan,
        owner=row.owner,
        attributes=dict(row.attributes, **({"external_id": row.external_id} if row.external_id else {})),
    )


def merge(existing: Account | None, update: AccountUpdate) -> Account:
    """An update changes only the fields it carries (pure)."""
    base = existing.model_dump() if existing else {"id": update.id}
    for field in ("name", "domain", "arr", "plan", "owner"):
        value = getattr(update, field)
        if value is not None:
            base[field] = value.lower() if field == "domain" and isinstance(value, str) else value
    base["attributes"] = {**(base.get("attributes") or {}), **update.attributes}
    base.pop("matched_by", None)
    return Account.model_validate(base)


class AccountDirectory:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def get(self, account_id: str) -> Account | None:
        return await self._get_json(names.account_key(account_id))

    async def _get_json(self, key: str) -> Account | None:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return Account.model_validate_json(entry.value)

    async def _pointer(self, key: str) -> str | None:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def put(self, account: Account) -> None:
        await self.kv.put(names.account_key(account.id), account.model_dump_json(exclude={"matched_by"}).encode())
        if account.domain:
            await self.kv.put(names.domain_key(account.domain), account.id.encode())
        external = account.attributes.get("external_id")
        if external:
            await self.kv.put(names.external_key(external), account.id.encode())

    async def seed(self, rows: list[AccountRow]) -> int:
        """Create accounts that are not in the directory yet; never overwrite what CRM events wrote since."""
        created = 0
        for row in rows:
            account = account_from_row(row)
            try:
                await self.kv.create(names.account_key(account.id), account.model_dump_json().encode())
            except KeyWrongLastSequenceError:
                continue
            await self.put(account)
            created += 1
        return created

    async def apply(self, update: AccountUpdate) -> Account:
        account = merge(await self.get(update.id), update)
        await self.put(account)
        return account

    async def match(self, item: Item) -> Account | None:
        """The item's account, tried by id, external id, then e-mail domain; records how it matched."""
        for how, key in lookup_keys(item):
            if key.startswith("id."):
                account = await self._get_json(key)
            else:
                account_id = await self._pointer(key)
                account = await self.get(account_id) if account_id else None
            if account:
                return account.model_copy(update={"matched_by": how})
        return None
