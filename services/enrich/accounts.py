"""The account directory, kept in a NATS KV bucket.

Keys: `id.<account id>` → the account JSON; `ext.<external id>` and `domain.<domain>` → the account id.
Fed by accounts.csv (seed, create-only), `switchboard accounts import` (merge), CRM events (HubSpot, Salesforce,
Segment group, native `account.*` events) and on-miss CRM lookups (services.enrich.crm). See docs/accounts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.item import Account, AccountUpdate, Item
from services.common import names
from services.config.models import AccountRow
from services.enrich.crm import CrmResolver
from services.enrich.freemail import email_domain, is_free_mail
from services.enrich.matching import candidates, normalize_domain

Outcome = Literal["created", "updated", "unchanged"]


def clean_domain(value: str | None) -> str | None:
    """The domain as the directory keeps it: normalised ('https://www.Acme.com/' → 'acme.com'), else lower-cased."""
    if not value or not value.strip():
        return None
    return normalize_domain(value) or value.strip().lower()


def account_from_row(row: AccountRow) -> Account:
    return Account(
        id=row.account_id,
        name=row.name,
        domain=clean_domain(row.domain),
        arr=row.arr,
        plan=row.plan,
        owner=row.owner,
        attributes=dict(row.attributes, **({"external_id": row.external_id} if row.external_id else {})),
    )


def update_from_row(row: AccountRow) -> AccountUpdate:
    """An accounts.csv row as a change: the cells it fills replace the directory's values, empty cells keep them."""
    account = account_from_row(row)
    return AccountUpdate(
        id=account.id, name=account.name, domain=account.domain, arr=account.arr, plan=account.plan,
        owner=account.owner, attributes=account.attributes,
    )


def update_from_account(account: Account) -> AccountUpdate:
    return AccountUpdate.model_validate(account.model_dump(exclude={"matched_by"}))


def merge(existing: Account | None, update: AccountUpdate) -> Account:
    """An update changes only the fields it carries (pure)."""
    base = existing.model_dump() if existing else {"id": update.id}
    for field in ("name", "domain", "arr", "plan", "owner"):
        value = getattr(update, field)
        if value is not None:
            base[field] = clean_domain(value) if field == "domain" and isinstance(value, str) else value
    base["attributes"] = {**(base.get("attributes") or {}), **update.attributes}
    base.pop("matched_by", None)
    return Account.model_validate(base)


@dataclass(frozen=True)
class Found:
    account: Account
    how: str  # "id" | "external_id" | "domain"


class AccountDirectory:
    def __init__(self, kv: KeyValue, crm: CrmResolver | None = None) -> None:
        self.kv = kv
        self.crm = crm  # on-miss CRM lookups; None = off

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

    async def _by_key(self, how: str, key: str) -> Account | None:
        if how == "id":
            return await self._get_json(key)
        account_id = await self._pointer(key)
        return await self.get(account_id) if account_id else None

    async def put(self, account: Account, previous: Account | None = None) -> None:
        """Write the account and its pointers; drop the pointers of a domain/external id it no longer has."""
        await self.kv.put(names.account_key(account.id), account.model_dump_json(exclude={"matched_by"}).encode())
        domain = clean_domain(account.domain)
        if domain:
            await self.kv.put(names.domain_key(domain), account.id.encode())
        external = account.attributes.get("external_id")
        if external:
            await self.kv.put(names.external_key(external), account.id.encode())
        if previous is None:
            return
        old_domain = clean_domain(previous.domain)
        if old_domain and old_domain != domain:
            await self._drop_pointer(names.domain_key(old_domain), account.id)
        old_external = previous.attributes.get("external_id")
        if old_external and old_external != external:
            await self._drop_pointer(names.external_key(old_external), account.id)

    async def _drop_pointer(self, key: str, account_id: str) -> None:
        if await self._pointer(key) == account_id:  # another account may own it by now: leave that alone
            await self.kv.delete(key)

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

    async def upsert(self, update: AccountUpdate) -> tuple[Account, Outcome]:
        """Merge a change into the directory (what `accounts import` and CRM events do)."""
        existing = await self.get(update.id)
        account = merge(existing, update)
        if existing is not None and account == existing.model_copy(update={"matched_by": None}):
            return account, "unchanged"
        await self.put(account, previous=existing)
        return account, "created" if existing is None else "updated"

    async def apply(self, update: AccountUpdate) -> Account:
        """A CRM or analytics event's change. CRMs name accounts by their own ids (a Salesforce `001…`,
        a HubSpot company id): when the directory has no account under that id, the change goes to the
        account that has it as external id, or else the one with the same domain, and that CRM id is
        recorded as its external id, instead of forking a second, thin account."""
        if await self.get(update.id) is None:
            owner = await self._by_key("external_id", names.external_key(update.id))
            domain = clean_domain(update.domain)
            if owner is None and domain and not is_free_mail(domain):
                owner = await self._by_key("domain", names.domain_key(domain))
            if owner is not None:
                attributes = dict(update.attributes)
                attributes.setdefault("external_id", owner.attributes.get("external_id") or update.id)
                crm_id = update.id
                update = update.model_copy(update={"id": owner.id, "attributes": attributes})
                account, _ = await self.upsert(update)
                await self.kv.put(names.external_key(crm_id), owner.id.encode())  # the next event finds it by id
                return account
        account, _ = await self.upsert(update)
        return account

    async def find(self, query: str) -> Found | None:
        """`accounts show`: an account id, an external id, a domain or an e-mail address."""
        query = query.strip()
        if not query:
            return None
        keys: list[tuple[str, str]] = []
        if "@" not in query:
            keys += [("id", names.account_key(query)), ("external_id", names.external_key(query))]
        domain = clean_domain(email_domain(query) if "@" in query else query)
        if domain:
            keys.append(("domain", names.domain_key(domain)))
        for how, key in keys:
            account = await self._by_key(how, key)
            if account:
                return Found(account, how)
        return None

    async def match(self, item: Item) -> Account | None:
        """The item's account, tried by id, external id, then e-mail domain (and parent domains); when the
        directory has none and CRM lookups are on, the CRM's answer, written back to the directory.
        `matched_by` records how: id | external_id | domain | crm."""
        cands = candidates(item)
        for cand in cands:
            account = await self._by_key(cand.how, cand.key)
            if account:
                return account.model_copy(update={"matched_by": cand.how})
        if self.crm is None:
            return None
        found = await self.crm.resolve(item, cands)
        if found is None:
            return None
        account, _ = await self.upsert(update_from_account(found))
        return account.model_copy(update={"matched_by": "crm"})
