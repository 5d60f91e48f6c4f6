"""HubSpot companies adapter (CRM v3 objects API)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from schemas.item import Account
from services.enrich.crm.http import CRM_DEFAULTS, HttpCrm
from services.enrich.crm.lookup import CrmUnavailable
from services.enrich.crm.records import as_float, as_str, field_map
from services.enrich.matching import normalize_domain
from services.outbound.client import OutboundSettings
from services.outbound.guard import AllowList
from services.outbound.transport import Resolver, system_resolve

HUBSPOT_PROPERTIES = {"name": "name", "domain": "domain", "arr": "annualrevenue", "plan": "plan", "owner": "hubspot_owner_id"}
HUBSPOT_ID_RE = re.compile(r"^[0-9]{1,20}$")


class HubSpotCompanies(HttpCrm):
    """HubSpot CRM v3 companies: GET /crm/v3/objects/companies/{id}, POST /crm/v3/objects/companies/search."""

    kind = "hubspot"

    def __init__(self, base_url: str, token: str, settings: OutboundSettings = CRM_DEFAULTS,
                 properties: dict[str, str] | None = None, allow: AllowList = AllowList(),
                 resolve: Resolver = system_resolve) -> None:
        super().__init__(base_url, token, settings, allow, resolve)
        self.properties = field_map(HUBSPOT_PROPERTIES, properties)

    def accepts_id(self, account_id: str, item_kind: str) -> bool:
        # HubSpot ids are bare numbers, which other tools use too: only trust ids that HubSpot itself sent.
        return item_kind == "hubspot" and bool(HUBSPOT_ID_RE.match(account_id))

    def _account(self, record: dict[str, Any]) -> Account | None:
        record_id = as_str(record.get("id"))
        props = record.get("properties") or {}
        if not record_id or not isinstance(props, dict) or record.get("archived"):
            return None
        p = self.properties
        return Account(
            id=record_id,
            name=as_str(props.get(p["name"])),
            domain=normalize_domain(as_str(props.get(p["domain"]))),
            arr=as_float(props.get(p["arr"])),
            plan=as_str(props.get(p["plan"])),
            owner=as_str(props.get(p["owner"])),
            attributes={"crm": "hubspot"},
        )

    async def by_id(self, account_id: str) -> Account | None:
        if not HUBSPOT_ID_RE.match(account_id):
            return None
        text = await self.request(
            "GET",
            f"/crm/v3/objects/companies/{quote(account_id, safe='')}",
            params={"properties": ",".join(self.properties.values()), "archived": "false"},
        )
        if text is None:
            return None
        body = self.json_of(text)
        return self._account(body) if isinstance(body, dict) else None

    async def by_domain(self, domain: str) -> Account | None:
        prop = self.properties["domain"]
        body = {
            # filter groups are ORed: the bare domain or its www. form, as people type it into HubSpot
            "filterGroups": [
                {"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}
                for value in (domain, f"www.{domain}")
            ],
            "properties": list(self.properties.values()),
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "limit": 10,
        }
        text = await self.request("POST", "/crm/v3/objects/companies/search", body=body)
        if text is None:
            raise CrmUnavailable("hubspot: search endpoint not found (check the base URL)")
        data = self.json_of(text)
        results = data.get("results") if isinstance(data, dict) else None
        for record in results or []:
            account = self._account(record) if isinstance(record, dict) else None
            if account and account.domain == domain:  # the oldest company with exactly this domain
                return account
        return None
