"""Which directory keys identify an item's account, in order of trust (pure).

Order: the CRM/account id the source named, its external id, the person's e-mail domain, a domain the source
named, then the parent domains of those (`eu.acme.com` → `acme.com`). Free-mail domains (gmail.com, ...) never
identify an account, and neither does a bare public suffix (`co.uk`): parent domains stop at the registrable
domain as far as the small list below knows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.item import Item
from services.common import names
from services.enrich.freemail import email_domain, is_free_mail

How = Literal["id", "external_id", "domain"]

# Two-label public suffixes under which the registrable domain has three labels (acme.co.uk). Not the whole
# Public Suffix List: enough that `eu.acme.co.uk` falls back to `acme.co.uk` and never to `co.uk`.
MULTI_LABEL_SUFFIXES = frozenset(
    """
    co.uk org.uk ac.uk gov.uk me.uk ltd.uk plc.uk net.uk sch.uk
    com.au net.au org.au edu.au gov.au co.nz org.nz net.nz co.jp ne.jp or.jp ac.jp go.jp co.kr or.kr
    com.br net.br org.br com.mx com.ar com.cn net.cn org.cn com.hk com.tw com.sg com.my co.in net.in org.in
    co.za org.za co.il com.tr com.ua com.pl co.id com.ph com.vn com.sa com.eg co.th
    """.split()
)


@dataclass(frozen=True)
class Candidate:
    """One way to identify the item's account: `how` it would match and the raw `value` (id or domain)."""

    how: How
    value: str
    parent: bool = False  # a parent domain of the one the item carried

    @property
    def key(self) -> str:
        if self.how == "id":
            return names.account_key(self.value)
        if self.how == "external_id":
            return names.external_key(self.value)
        return names.domain_key(self.value)


def normalize_domain(value: str | None) -> str | None:
    """'HTTPS://www.Acme.com/x', 'acme.com.' or 'ops@acme.com' → 'acme.com'; None when nothing domain-like is left."""
    if not value:
        return None
    s = value.strip().lower()
    if "://" in s:
        s = s.split("://", 1)[1]
    s = s.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0].strip(".")
    if s.startswith("www."):
        s = s[4:]
    if "." not in s or not all(part and _label_ok(part) for part in s.split(".")):
        return None
    return s


def _label_ok(label: str) -> bool:
    return len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label)


def parent_domains(domain: str) -> list[str]:
    """`a.b.acme.com` → [`b.acme.com`, `acme.com`]; never a bare public suffix (`com`, `co.uk`)."""
    labels = domain.split(".")
    floor = 3 if ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES else 2
    return [".".join(labels[i:]) for i in range(1, len(labels) - floor + 1)]


def identifies_account(domain: str) -> bool:
    """A domain that can stand for one account: not free mail, not a public suffix."""
    return not is_free_mail(domain) and domain not in MULTI_LABEL_SUFFIXES and "." in domain


def candidates(item: Item) -> list[Candidate]:
    """Every way to identify the item's account, most trusted first (pure; no duplicates)."""
    out: list[Candidate] = []
    hint = item.account_hint
    if hint and hint.id and hint.id.strip():
        out.append(Candidate("id", hint.id.strip()))
    if hint and hint.external_id and hint.external_id.strip():
        out.append(Candidate("external_id", hint.external_id.strip()))
    domains: list[str] = []
    for raw in (email_domain(item.person.email if item.person else None), hint.domain if hint else None):
        domain = normalize_domain(raw)
        if domain and identifies_account(domain) and domain not in domains:
            domains.append(domain)
    out.extend(Candidate("domain", d) for d in domains)
    seen = set(domains)
    for domain in domains:
        for parent in parent_domains(domain):
            if parent not in seen and identifies_account(parent):
                seen.add(parent)
                out.append(Candidate("domain", parent, parent=True))
    return out


def lookup_keys(item: Item) -> list[tuple[str, str]]:
    """[(how, kv key)] to try in order: CRM/account id, external id, then the person's e-mail domain
    (never a free-mail domain), then a domain the source named, then their parent domains."""
    return [(c.how, c.key) for c in candidates(item)]
