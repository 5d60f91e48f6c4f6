"""The one way out: every HTTP call Switchboard makes to a tool goes through `OutboundClient` (client.py),
behind the SSRF guard (guard.py, enforced at connect time by transport.py). Errors: errors.py."""
