"""GitHub repository/organization/app webhooks (docs.github.com/en/webhooks).

Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`. The legacy SHA-1
`X-Hub-Signature` is not accepted (GitHub sends both; the SHA-256 one is always present when a secret
is set). No timestamp is signed; GitHub does not retry automatically (manual redelivery within 3 days
keeps `X-GitHub-Delivery`, so dedup on it holds). Both content types are supported:
`application/json` and `application/x-www-form-urlencoded` (`payload=<json>`), signed as sent.

Event (`X-GitHub-Event`) + `action` -> event_type `issues.opened`, ...; delivery id = `X-GitHub-Delivery`.
- `issues` opened/edited/reopened -> `feedback` (title, body, html_url); other actions -> `system`.
- `issue_comment` / `discussion_comment` created/edited -> `feedback` (comment body; title of the issue).
- `discussion` created/edited -> `feedback`.
- `ping` and everything else -> `system`.
Person: the comment/issue author (`user.login`) else `sender.login`. Attributes: repository,
organization, installation id, issue number, labels.
"""

from __future__ import annotations

from typing import Any, Sequence

from schemas.item import Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft, InboundRequest, Reply, accepted_reply, decode_json
from services.ingest.adapters.fields import as_dict, as_list, as_str, decode_form, iso_utc, stable_hash
from services.ingest.adapters.hmac_hex import verify_hex
from services.ingest.errors import MalformedBody, NormaliseError
from services.ingest.text import html_to_text

kind = "github"
content_types = frozenset({"application/json", "application/x-www-form-urlencoded"})
SIGNATURE = "x-hub-signature-256"
EVENT = "x-github-event"
DELIVERY = "x-github-delivery"
TEXT_ACTIONS = {"opened", "edited", "reopened", "created"}


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    verify_hex(request.headers.get(SIGNATURE), secrets, [request.body], "sha256", "sha256", "X-Hub-Signature-256")


def decode(request: InboundRequest) -> Any:
    if request.content_type == "application/x-www-form-urlencoded":
        form = decode_form(request.body)
        if "payload" not in form:
            raise MalformedBody("form-encoded GitHub delivery without `payload`")
        return decode_json(form["payload"].encode("utf-8", "surrogatepass"))
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _person(user: dict[str, Any]) -> Person | None:
    login = as_str(user.get("login"))
    return Person(id=login, name=login, external_id=as_str(user.get("id"))) if login else None


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("GitHub body must be a JSON object")
    event = as_str(request.headers.get(EVENT)) or ("ping" if "zen" in payload else "unknown")
    action = as_str(payload.get("action"))
    issue = as_dict(payload.get("issue")) or as_dict(payload.get("discussion"))
    comment = as_dict(payload.get("comment"))
    labels = [as_str(as_dict(label).get("name")) for label in as_list(issue.get("labels"))]
    attributes = {
        k: v
        for k, v in {
            "github_event": event,
            "action": action,
            "repository": as_str(as_dict(payload.get("repository")).get("full_name")),
            "organization": as_str(as_dict(payload.get("organization")).get("login")),
            "installation_id": as_str(as_dict(payload.get("installation")).get("id")),
            "number": as_str(issue.get("number")),
            "labels": [label for label in labels if label] or None,
        }.items()
        if v is not None
    }
    base: dict[str, Any] = {
        "delivery_id": as_str(request.headers.get(DELIVERY)) or stable_hash(request.body),
        "event_type": f"{event}.{action}" if action else event,
        "attributes": attributes,
        "raw": payload,
    }
    sender = _person(as_dict(payload.get("sender")))
    title = as_str(issue.get("title"))
    if event in ("issue_comment", "discussion_comment") and action in TEXT_ACTIONS:
        body = as_str(comment.get("body"))
        person = _person(as_dict(comment.get("user"))) or sender
        url = as_str(comment.get("html_url")) or as_str(issue.get("html_url"))
        when = iso_utc(comment.get("updated_at")) or iso_utc(comment.get("created_at"))
    elif event in ("issues", "discussion") and action in TEXT_ACTIONS:
        body = as_str(issue.get("body"))
        person = _person(as_dict(issue.get("user"))) or sender
        url = as_str(issue.get("html_url"))
        when = iso_utc(issue.get("updated_at")) or iso_utc(issue.get("created_at"))
    else:
        return [Draft(**base, category="system", title=title, person=sender, url=as_str(issue.get("html_url")))]
    if not (body or title):
        return [Draft(**base, category="system", person=person, url=url)]
    text, html = html_to_text(body) if body else (title or "", None)
    return [Draft(**base, title=title, text=text or title, html=html, url=url, person=person, occurred_at=when)]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
