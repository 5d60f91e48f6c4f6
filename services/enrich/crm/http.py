"""HttpCrm: the CRM adapters' requests, bound to one base URL, over the shared guarded outbound client.

Everything about getting a request out safely is services/outbound's: the SSRF guard (https unless the host is in
SWITCHBOARD_OUTBOUND_ALLOW, canonical IP spellings only, the name resolved once and the connection pinned to a
checked public address), no redirects, a size cap, Retry-After, tenacity retries and the error classes. What is
CRM-specific here is policy, as configuration of that client (`crm_outbound_settings`: short timeouts, a few
attempts, a hard time budget), and reading its answers for the lookup port: 404 is a miss, anything else that is
not a 2xx is CrmUnavailable."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from services.common.settings import Settings
from services.enrich.crm.lookup import CrmConfigError, CrmUnavailable
from services.outbound.client import OutboundClient, OutboundRequest, OutboundSettings
from services.outbound.errors import OutboundError, Refused, Rejected
from services.outbound.guard import AllowList, check_address, check_url, ip_literal
from services.outbound.transport import Resolver, system_resolve

USER_AGENT = "switchboard-enrich/1 (account lookup)"

# The enrich worker must never stall on the CRM: short timeouts, three attempts, and a hard cap on one lookup.
CRM_DEFAULTS = OutboundSettings(connect_timeout_s=1.0, read_timeout_s=2.0, budget_s=4.0, deadline_s=4.0,
                                attempts=3, max_retry_after_s=2.0, backoff_base_s=0.1, backoff_max_s=1.0)


def crm_outbound_settings(settings: Settings) -> OutboundSettings:
    """The shared client's settings for CRM lookups, from SWITCHBOARD_CRM_* (docs/accounts.md)."""
    return replace(CRM_DEFAULTS, connect_timeout_s=settings.crm_connect_timeout_s,
                   read_timeout_s=settings.crm_timeout_s, budget_s=settings.crm_lookup_budget_s,
                   deadline_s=settings.crm_lookup_budget_s, attempts=settings.crm_attempts,
                   max_retry_after_s=settings.crm_max_retry_after_s)


def check_base_url(url: str, allow: AllowList = AllowList()) -> str:
    """The base URL without a trailing slash, or CrmConfigError saying why the outbound guard refuses it (not https
    and not allow-listed, credentials, an odd IP spelling, an IP literal that is not public and not allowed), or
    why a base URL cannot carry it (a query or fragment). A host name's addresses are checked on each connect."""
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise CrmConfigError("CRM base URL must not carry a query or fragment")
    host = (parts.hostname or "").lower()
    try:
        check_url(url, frozenset({host}), allow)
        literal = ip_literal(host)
        if literal is not None:
            check_address(host, literal, allow)
    except Refused as exc:
        raise CrmConfigError(f"CRM base URL refused by the outbound guard: {exc}") from None
    return url.rstrip("/")


class HttpCrm:
    """Requests relative to one base URL, through an OutboundClient that may reach only that URL's host."""

    kind = "http"

    def __init__(
        self,
        base_url: str,
        token: str,
        settings: OutboundSettings = CRM_DEFAULTS,
        allow: AllowList = AllowList(),
        resolve: Resolver = system_resolve,
    ) -> None:
        self.base_url = check_base_url(base_url, allow)
        self.settings = settings
        self._auth = f"Bearer {token}"
        host = urlsplit(self.base_url).hostname or ""
        self._client = OutboundClient(frozenset({host}), allow, settings, resolve)

    def __repr__(self) -> str:  # never the token
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, params: dict[str, str] | None = None,
                      body: Any = None) -> str | None:
        """The body of a 2xx answer, None for a 404, or CrmUnavailable (after the shared client's retries)."""
        if not path.startswith("/") or path.startswith("//"):
            raise CrmUnavailable("refusing a path that is not relative to the base URL")  # only ever this host
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        req = OutboundRequest(kind=self.kind, method=method, url=url, body=body, auth=self._auth,
                              headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        try:
            outcome = await self._client.deliver(req)
        except Refused as exc:
            raise CrmUnavailable(f"{self.kind}: refused by the outbound guard: {exc}") from None
        except Rejected as exc:
            if exc.status == 404:
                return None
            raise CrmUnavailable(str(exc)) from None
        except OutboundError as exc:  # throttled, 5xx, no connection, no answer in time, redirect, too large
            raise CrmUnavailable(str(exc)) from None
        return outcome.text

    @staticmethod
    def json_of(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise CrmUnavailable("the CRM answered with something that is not JSON") from None
