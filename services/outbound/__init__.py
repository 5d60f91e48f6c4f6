"""The one way out: every HTTP call Switchboard makes to a tool (deliver) or a CRM (enrich's account lookups) goes
through `OutboundClient` (client.py), behind the SSRF guard (guard.py, enforced at connect time by transport.py).
Errors: errors.py."""
