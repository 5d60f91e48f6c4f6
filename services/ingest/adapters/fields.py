"""Defensive field readers shared by adapters (pure).

Webhook payloads are untrusted: any field may be missing, null, a number where a string is
expected, or a dict where a list is expected. These helpers turn "whatever arrived" into the
types the item schema wants, returning None instead of raising.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from services.ingest.errors import MalformedBody

MAX_TEXT = 100_000  # characters kept per text field; the raw payload keeps everything


def as_str(value: Any) -> str | None:
    """A non-empty string from a string or number; None for anything else (dicts, lists, bools, blanks)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        value = value.strip()
        return value[:MAX_TEXT] if value else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value.strip().replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def iso_utc(value: Any) -> datetime | None:
    """ISO 8601 string -> aware UTC datetime; None when absent or unparseable (never raises)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def unix_utc(value: Any, *, millis: bool = False) -> datetime | None:
    """Unix seconds (or ms) as number or numeric string -> aware UTC datetime, else None."""
    f = as_float(value)
    if f is None:
        return None
    if millis:
        f /= 1000.0
    try:
        return datetime.fromtimestamp(f, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def domain_of(value: Any) -> str | None:
    """'https://www.acme.com/x' or 'acme.com' -> 'acme.com'."""
    s = as_str(value)
    if not s:
        return None
    s = s.lower()
    if "://" in s:
        s = s.split("://", 1)[1]
    s = s.split("/", 1)[0].split("?", 1)[0].split("@")[-1].split(":", 1)[0]
    if s.startswith("www."):
        s = s[4:]
    return s or None


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower() or None


def stable_hash(*parts: Any) -> str:
    """A short deterministic id from parts (for senders that carry no event id)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def decode_form(body: bytes) -> dict[str, str]:
    """application/x-www-form-urlencoded -> {name: first value} (blank values kept)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("form body is not UTF-8") from None
    try:
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=10_000)
    except ValueError as exc:
        raise MalformedBody(f"form body is not valid: {exc}") from None
    return {k: v[0] if v else "" for k, v in parsed.items()}
