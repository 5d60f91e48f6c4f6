"""Sign a body the way each sender kind does, so the matching adapter accepts it.

`signed_request(source, secret_values, token_values, body, now, delivery_id)` returns
`(headers, body, path_with_query)`. Used by `switchboard demo`, the tests and the load generator.
This is deliberately separate code from the adapters' `verify` (a bug shared by signer and verifier
would otherwise pass every test): each function here follows the vendor's documented scheme.

Every signer uses the FIRST secret/token value (a sender holds one secret; rotation is the
receiver's concern). `delivery_id`, when given, goes into the sender's delivery-id header
(Standard Webhooks, Zendesk, GitHub, Jira); kinds whose id lives in the body ignore it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Callable
from urllib.parse import urlencode, urlsplit

from services.config.models import SourceConfig

Signed = tuple[dict[str, str], bytes, str]
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _hmac(key: bytes, msg: bytes, algo: str = "sha256") -> bytes:
    return hmac.new(key, msg, getattr(hashlib, algo)).digest()


def _first(values: list[str], what: str, kind: str) -> str:
    if not values:
        raise ValueError(f"signing a {kind} request needs at least one {what} value")
    return values[0]


def _default_id(body: bytes, prefix: str = "") -> str:
    return prefix + hashlib.sha256(body).hexdigest()[:24]


def _path(source: SourceConfig, query: str = "") -> str:
    return f"/webhooks/{source.name}" + (f"?{query}" if query else "")


def _json_or_form(body: bytes) -> str:
    return JSON if body.lstrip()[:1] in (b"{", b"[") else FORM


def _standard(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "standard")
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    key = base64.b64decode(raw + "==")
    msg_id = delivery_id or _default_id(body, "msg_")
    ts = str(int(now))
    sig = base64.b64encode(_hmac(key, f"{msg_id}.{ts}.".encode() + body)).decode()
    headers = {"content-type": JSON, "webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": f"v1,{sig}"}
    return headers, body, _path(source)


def _zendesk(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "zendesk")
    ts = datetime.fromtimestamp(int(now), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = base64.b64encode(_hmac(secret.encode(), ts.encode() + body)).decode()
    headers = {
        "content-type": _json_or_form(body),
        "x-zendesk-webhook-signature": sig,
        "x-zendesk-webhook-signature-timestamp": ts,
        "x-zendesk-webhook-id": "01DEMO0WEBHOOK",
    }
    if delivery_id:
        headers["x-zendesk-webhook-invocation-id"] = delivery_id
    return headers, body, _path(source)


def _intercom(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "intercom")
    sig = _hmac(secret.encode(), body, "sha1").hex()
    return {"content-type": JSON, "x-hub-signature": f"sha1={sig}"}, body, _path(source)


def _hubspot(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "hubspot")
    if not source.public_url:
        # without the public URL only v1 (sha256 of secret + body) can be checked
        sig = hashlib.sha256(secret.encode() + body).hexdigest()
        headers = {"content-type": JSON, "x-hubspot-signature": sig, "x-hubspot-signature-version": "v1"}
        return headers, body, _path(source)
    ts = str(int(now * 1000))
    query = urlsplit(source.public_url).query
    message = b"POST" + source.public_url.encode() + body + ts.encode()
    sig = base64.b64encode(_hmac(secret.encode(), message)).decode()
    headers = {"content-type": JSON, "x-hubspot-signature-v3": sig, "x-hubspot-request-timestamp": ts}
    return headers, body, _path(source, query)


def _salesforce(source, secrets, tokens, body, now, delivery_id) -> Signed:
    # Outbound Messages are not signed: the adapter checks the OrganizationId in the body, plus the
    # optional URL token (the endpoint URL configured in Salesforce carries ?token=...).
    query = urlencode({"token": tokens[0]}) if tokens else ""
    return {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}, body, _path(source, query)


def _segment(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "segment")
    return {"content-type": JSON, "x-signature": _hmac(secret.encode(), body, "sha1").hex()}, body, _path(source)


def _bearer(kind: str) -> Callable[..., Signed]:
    def sign(source, secrets, tokens, body, now, delivery_id) -> Signed:
        token = _first(tokens, "token", kind)
        return {"content-type": JSON, "authorization": f"Bearer {token}"}, body, _path(source)

    return sign


def _jira(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "jira")
    headers = {"content-type": JSON, "x-hub-signature": "sha256=" + _hmac(secret.encode(), body).hex()}
    if delivery_id:
        headers["x-atlassian-webhook-identifier"] = delivery_id
    return headers, body, _path(source)


def _slack(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "slack")
    ts = str(int(now))
    sig = "v0=" + _hmac(secret.encode(), f"v0:{ts}:".encode() + body).hex()
    headers = {"content-type": _json_or_form(body), "x-slack-request-timestamp": ts, "x-slack-signature": sig}
    return headers, body, _path(source)


def github_event_of(body: bytes) -> str:
    """The X-GitHub-Event a JSON payload belongs to (for the demo: issues, issue_comment, ping)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return "ping"
    if not isinstance(payload, dict):
        return "ping"
    if "zen" in payload or "hook_id" in payload:
        return "ping"
    if "comment" in payload and "issue" in payload:
        return "issue_comment"
    if "issue" in payload:
        return "issues"
    if "discussion" in payload:
        return "discussion_comment" if "comment" in payload else "discussion"
    if "pull_request" in payload:
        return "pull_request"
    return "ping"


def _github(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "github")
    guid = delivery_id or _default_id(body)
    headers = {
        "content-type": _json_or_form(body),
        "x-hub-signature-256": "sha256=" + _hmac(secret.encode(), body).hex(),
        "x-github-event": github_event_of(body),
        "x-github-delivery": guid,
        "x-github-hook-id": "1",
    }
    return headers, body, _path(source)


def _stripe(source, secrets, tokens, body, now, delivery_id) -> Signed:
    secret = _first(secrets, "secret", "stripe")
    ts = str(int(now))
    sig = _hmac(secret.encode(), f"{ts}.".encode() + body).hex()
    return {"content-type": JSON, "stripe-signature": f"t={ts},v1={sig}"}, body, _path(source)


SIGNERS: dict[str, Callable[..., Signed]] = {
    "standard": _standard,
    "zendesk": _zendesk,
    "intercom": _intercom,
    "hubspot": _hubspot,
    "salesforce": _salesforce,
    "segment": _segment,
    "pendo": _bearer("pendo"),
    "jira": _jira,
    "slack": _slack,
    "github": _github,
    "stripe": _stripe,
    "freshdesk": _bearer("freshdesk"),
}


def signed_request(
    source: SourceConfig,
    secret_values: list[str],
    token_values: list[str],
    body: bytes,
    now: float,
    delivery_id: str | None = None,
) -> tuple[dict[str, str], bytes, str]:
    """(headers incl. content-type, body, path-with-query) that the adapter of `source.kind` accepts."""
    try:
        signer = SIGNERS[source.kind]
    except KeyError:
        raise ValueError(f"no signer for source kind {source.kind!r}") from None
    return signer(source, list(secret_values), list(token_values), body, now, delivery_id)
