"""Signed "did this help?" links: `GET {public_url}/feedback/{token}` shows a confirm page, `POST` records.

A token names the item and the verdict and is signed with HMAC-SHA256 under `SWITCHBOARD_FEEDBACK_SECRET`
(the environment; never the config). It does not expire: an answer may be read days later, and the
first verdict per item is the one kept (SB_FEEDBACK), so replaying a token changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Literal, Mapping

Verdict = Literal["helpful", "not_helpful"]
SECRET_ENV = "SWITCHBOARD_FEEDBACK_SECRET"
_CODES: dict[str, Verdict] = {"y": "helpful", "n": "not_helpful"}
_SIG_BYTES = 16


class BadToken(ValueError):
    """The token is malformed or its signature does not verify (the page answers 404)."""


def _secret(environ: Mapping[str, str] | None = None) -> bytes:
    value = (environ if environ is not None else os.environ).get(SECRET_ENV, "")
    if not value:
        raise BadToken(f"{SECRET_ENV} is not set: feedback links are off")
    return value.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(item_id: str, verdict: Verdict, environ: Mapping[str, str] | None = None) -> str:
    code = "y" if verdict == "helpful" else "n"
    body = f"{code}.{item_id}"
    sig = hmac.new(_secret(environ), body.encode(), hashlib.sha256).digest()[:_SIG_BYTES]
    return f"{body}.{_b64(sig)}"


def read_token(token: str, environ: Mapping[str, str] | None = None) -> tuple[str, Verdict]:
    """(item id, verdict) of a valid token; BadToken otherwise. Constant-time signature check."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] not in _CODES or not parts[1] or len(token) > 200:
        raise BadToken("malformed feedback token")
    code, item_id, sig = parts
    expected = _b64(hmac.new(_secret(environ), f"{code}.{item_id}".encode(), hashlib.sha256).digest()[:_SIG_BYTES])
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise BadToken("feedback token signature does not verify")
    return item_id, _CODES[code]


def feedback_url(public_url: str, item_id: str, verdict: Verdict, environ: Mapping[str, str] | None = None) -> str:
    return f"{public_url.rstrip('/')}/feedback/{make_token(item_id, verdict, environ)}"
