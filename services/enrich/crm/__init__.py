"""On-miss account lookups in the CRM's REST API: a port, HubSpot and Salesforce adapters over httpx, and the
resolver that puts a TTL cache (hits and misses) and a circuit breaker in front of them.

The enrich worker must never stall on the CRM: every lookup has a hard time budget (retries included), a breaker
opens after consecutive failures and then lookups are skipped at once, and a failed lookup just means the item
flows on without an account. Every request goes through the shared guarded client (services/outbound) and only to
the configured base URL's host: requests are relative to it, redirects are not followed, path segments are
percent-encoded, and the SSRF guard applies as it does to deliveries (https only unless the host is in
SWITCHBOARD_OUTBOUND_ALLOW, no private, loopback, link-local or metadata address). The API token is read from the
environment variable that settings name and is never logged or shown in a repr.

Modules: lookup (the CrmLookup port and its errors), http (HttpCrm: requests over the outbound client, the CRM's
policy for it), records (field maps and value conversion), hubspot, salesforce, cache (TtlCache), resolver
(CrmResolver and the *_from_settings factories).
"""

from __future__ import annotations

from services.enrich.crm.cache import TtlCache
from services.enrich.crm.http import CRM_DEFAULTS, check_base_url, crm_outbound_settings
from services.enrich.crm.hubspot import HubSpotCompanies
from services.enrich.crm.lookup import CrmConfigError
from services.enrich.crm.resolver import CrmResolver, crm_lookup_from_settings, crm_resolver_from_settings
from services.enrich.crm.salesforce import SalesforceAccounts, soql_like, soql_string

__all__ = [
    "CRM_DEFAULTS",
    "CrmConfigError",
    "CrmResolver",
    "HubSpotCompanies",
    "SalesforceAccounts",
    "TtlCache",
    "check_base_url",
    "crm_lookup_from_settings",
    "crm_outbound_settings",
    "crm_resolver_from_settings",
    "soql_like",
    "soql_string",
]
