"""Shared-token authentication for senders that cannot sign (Pendo, Freshdesk, optionally Salesforce).

A request passes when any configured token value equals one of: `?token=` in the URL,
`Authorization: Bearer <token>`, the whole `Authorization` header value, `X-Switchboard-Token`,
or (when `basic` is allowed) the user name or password of `Authorization: Basic`. Constant time:
every token is compared with every candidate, no early exit.
"""

from __future__ import annotations

import base64
import binascii
from typing import Sequence

from services.ingest.adapters.base import InboundRequest, any_digest_matches
from services.ingest.errors import AuthenticationFailed


def presented_tokens(request: InboundRequest, *, basic: bool = False) -> list[str]:
    found: list[str] = []
    query_token = request.query.get("token")
    if query_token:
        found.append(query_token)
    header = request.headers.get("x-switchboard-token")
    if header:
        found.append(header.strip())
    auth = (request.headers.get("authorization") or "").strip()
    if auth:
        found.append(auth)
        scheme, _, value = auth.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            found.append(value)
        elif scheme.lower() == "basic" and value and basic:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                decoded = ""
            user, sep, password = decoded.partition(":")
            found.extend(v for v in ((user, password) if sep else (user,)) if v)
    return found


def verify_token(request: InboundRequest, tokens: Sequence[str], *, basic: bool = False) -> None:
    configured = [t for t in tokens if t]
    if not configured:
        raise AuthenticationFailed("no token is configured for this source (set its `tokens` env vars)")
    presented = presented_tokens(request, basic=basic)
    if not presented:
        raise AuthenticationFailed("missing token (use ?token=, Authorization: Bearer, or X-Switchboard-Token)")
    if not any_digest_matches(configured, presented):
        raise AuthenticationFailed("token does not match any configured token")
