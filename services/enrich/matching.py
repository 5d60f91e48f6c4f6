"""Which directory keys identify an item's account, in order of trust (pure)."""

from __future__ import annotations

from schemas.item import Item
from services.common import names
from services.enrich.freemail import email_domain, is_free_mail


def lookup_keys(item: Item) -> list[tuple[str, str]]:
    """[(how, kv key)] to try in order: CRM/account id, external id, then the person's e-mail domain
    (never a free-mail domain), then a domain the source named."""
    keys: list[tuple[str, str]] = []
    hint = item.account_hint
    if hint and hint.id:
        keys.append(("id", names.account_key(hint.id)))
    if hint and hint.external_id:
        keys.append(("external_id", names.external_key(hint.external_id)))
    domain = email_domain(item.person.email if item.person else None)
    if domain and not is_free_mail(domain):
        keys.append(("domain", names.domain_key(domain)))
    if hint and hint.domain and not is_free_mail(hint.domain):
        key = names.domain_key(hint.domain)
        if ("domain", key) not in keys:
            keys.append(("domain", key))
    return keys
