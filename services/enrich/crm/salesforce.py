"""Salesforce accounts adapter (REST sobjects and SOQL query), with SOQL escaping."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from schemas.item import Account
from services.enrich.crm.http import CRM_DEFAULTS, HttpCrm
from services.enrich.crm.lookup import CrmConfigError, CrmUnavailable
from services.enrich.crm.records import as_float, as_str, field_map
from services.enrich.matching import normalize_domain
from services.outbound.client import OutboundSettings
from services.outbound.guard import AllowList
from services.outbound.transport import Resolver, system_resolve

SALESFORCE_FIELDS = {"name": "Name", "domain": "Website", "arr": "AnnualRevenue", "plan": "Type", "owner": "OwnerId"}
SALESFORCE_ACCOUNT_ID_RE = re.compile(r"^001[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")  # 001 = the Account key prefix
API_VERSION_RE = re.compile(r"^v\d{1,3}\.\d$")


def soql_string(value: str) -> str:
    """A SOQL string literal's content: backslash, quotes and control characters escaped."""
    out = []
    for c in value:
        if c in "\\'\"":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 32:
            continue
        else:
            out.append(c)
    return "".join(out)


def soql_like(value: str) -> str:
    """A SOQL LIKE pattern's content matching `value` literally: string escapes plus the % and _ wildcards."""
    return soql_string(value).replace("%", "\\%").replace("_", "\\_")


class SalesforceAccounts(HttpCrm):
    """Salesforce REST: GET /services/data/vXX.X/sobjects/Account/{id} and /query?q=SELECT ... FROM Account."""

    kind = "salesforce"

    def __init__(self, base_url: str, token: str, settings: OutboundSettings = CRM_DEFAULTS,
                 api_version: str = "v61.0", fields: dict[str, str] | None = None, allow: AllowList = AllowList(),
                 resolve: Resolver = system_resolve) -> None:
        if not API_VERSION_RE.match(api_version):
            raise CrmConfigError(f"Salesforce API version must look like v61.0, got {api_version!r}")
        super().__init__(base_url, token, settings, allow, resolve)
        self.api_version = api_version
        self.fields = field_map(SALESFORCE_FIELDS, fields)

    def accepts_id(self, account_id: str, item_kind: str) -> bool:
        # Salesforce ids say what they are: 001... is an Account, whichever tool passed it on.
        return bool(SALESFORCE_ACCOUNT_ID_RE.match(account_id))

    def _select(self) -> str:
        return ", ".join(dict.fromkeys(["Id", *self.fields.values()]))

    def _account(self, record: dict[str, Any]) -> Account | None:
        record_id = as_str(record.get("Id"))
        if not record_id:
            return None
        f = self.fields
        return Account(
            id=record_id,
            name=as_str(record.get(f["name"])),
            domain=normalize_domain(as_str(record.get(f["domain"]))),
            arr=as_float(record.get(f["arr"])),
            plan=as_str(record.get(f["plan"])),
            owner=as_str(record.get(f["owner"])),
            attributes={"crm": "salesforce"},
        )

    async def by_id(self, account_id: str) -> Account | None:
        if not SALESFORCE_ACCOUNT_ID_RE.match(account_id):
            return None
        text = await self.request(
            "GET",
            f"/services/data/{self.api_version}/sobjects/Account/{quote(account_id, safe='')}",
            params={"fields": self._select()},
        )
        if text is None:
            return None
        body = self.json_of(text)
        return self._account(body) if isinstance(body, dict) else None

    def domain_query(self, domain: str) -> str:
        return (
            f"SELECT {self._select()} FROM Account "
            f"WHERE {self.fields['domain']} LIKE '%{soql_like(domain)}%' ORDER BY CreatedDate ASC LIMIT 20"
        )

    async def by_domain(self, domain: str) -> Account | None:
        text = await self.request(
            "GET", f"/services/data/{self.api_version}/query", params={"q": self.domain_query(domain)}
        )
        if text is None:
            raise CrmUnavailable("salesforce: query endpoint not found (check the base URL and API version)")
        data = self.json_of(text)
        records = data.get("records") if isinstance(data, dict) else None
        for record in records or []:
            # LIKE '%acme.com%' also finds notacme.com and acme.com.evil.io: keep only this exact domain
            account = self._account(record) if isinstance(record, dict) else None
            if account and account.domain == domain:
                return account
        return None
