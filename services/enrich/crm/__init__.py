"""On-miss account lookups in the CRM's REST API: a port, HubSpot and Salesforce adapters over httpx, and the
resolver that puts a TTL cache (hits and misses) and a circuit breaker in front of them.

The enrich worker must never stall on the CRM: every lookup has a hard time budget (retries included), a breaker
opens after consecutive failures and then lookups are skipped at once, and a failed lookup just means the item
flows on without an account. Only the configured base URL is ever contacted: requests are relative to it,
redirects are not followed, path segments are percent-encoded, and the base URL must be https (plain http only
on loopback, for tests). The API token is read from the environment variable that settings name and is never
logged or shown in a repr.

Modules: lookup (the CrmLookup port and its errors), http (HttpCrm, the shared client), records (field maps and
value conversion), hubspot, salesforce, cache (TtlCache), resolver (CrmResolver and the *_from_settings factories).
"""

from __future__ import annotations

from services.enrich.crm.cache import TtlCache
from services.enrich.crm.http import HttpPolicy, check_base_url, parse_retry_after
from services.enrich.crm.hubspot import HubSpotCompanies
from services.enrich.crm.lookup import CrmConfigError
from services.enrich.crm.resolver import CrmResolver, crm_lookup_from_settings, crm_resolver_from_settings
from services.enrich.crm.salesforce import SalesforceAccounts, soql_like, soql_string

__all__ = [
    "CrmConfigError",
    "CrmResolver",
    "HttpPolicy",
    "HubSpotCompanies",
    "SalesforceAccounts",
    "TtlCache",
    "check_base_url",
    "crm_lookup_from_settings",
    "crm_resolver_from_settings",
    "parse_retry_after",
    "soql_like",
    "soql_string",
]
