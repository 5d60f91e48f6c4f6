"""`<prefix>=<hex HMAC over the raw body>` signature headers (GitHub, Intercom, Jira, Segment).

Pure and constant-time: every configured secret is tried against every signature, no early exit.
"""

from __future__ import annotations

from typing import Sequence

from services.ingest.adapters.base import any_digest_matches, hmac_digest, require_secrets
from services.ingest.errors import AuthenticationFailed


def sign_hex(secret: str, body: bytes, algo: str) -> str:
    return hmac_digest(secret.encode("utf-8"), body, algo).hex()


def verify_hex(
    header_value: str | None,
    secrets: Sequence[str],
    messages: Sequence[bytes],
    algo: str,
    prefix: str | None,
    header_name: str,
) -> None:
    """Raise AuthenticationFailed unless `header_value` (`prefix=hex`, or bare hex when prefix is None)
    is the HMAC of one of `messages` under one of `secrets`."""
    require_secrets(secrets)
    if not header_value:
        raise AuthenticationFailed(f"missing {header_name} header")
    candidates: list[str] = []
    for part in header_value.split(","):
        part = part.strip()
        if prefix is not None:
            scheme, sep, value = part.partition("=")
            if not sep or scheme.strip().lower() != prefix:
                continue
            part = value.strip()
        if part:
            candidates.append(part.lower())
    if not candidates:
        raise AuthenticationFailed(f"{header_name} has no {prefix or 'hex'} signature")
    expected = [sign_hex(s, m, algo) for s in secrets for m in messages]
    if not any_digest_matches(expected, candidates):
        raise AuthenticationFailed(f"{header_name} does not match any configured secret")
