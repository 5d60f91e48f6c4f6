"""Slack: Events API, slash commands, and message shortcuts (interactivity).

Signature (api.slack.com/authentication/verifying-requests-from-slack; slackapi/python-slack-sdk
`slack_sdk/signature`): `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:{ts}:{body}")>`
with `X-Slack-Request-Timestamp` (unix seconds) within ±300 s. Covers JSON event bodies and
form-encoded commands/interactivity alike (the raw body is signed).

- `url_verification` -> immediate 200 `{"challenge": ...}`, nothing published. `ssl_check=1` -> 200.
- `event_callback` with `message` / `app_mention` -> `feedback` (event.text; person event.user;
  delivery id `event_id`; attributes team, channel, ts, thread_ts). Bot messages (`bot_id`,
  subtype `bot_message`) and edits/deletes (other subtypes) -> `system`; other event types -> `system`.
- slash command (form with `command`) -> `feedback`, event_type `slash_command`, delivery id
  `trigger_id`, attributes command, channel, team, `response_url` (to answer later).
- message shortcut (`payload={"type":"message_action",...}`) -> `feedback` with the message's text,
  delivery id `trigger_id`; other interactivity payloads -> `system`.
- `block_actions` (a button click) -> no item: a click on our answers' "did this help?" buttons
  (`action_id` `sb_helpful` / `sb_not_helpful`, `value` = the item id) is a `Verdict` that ingest records on
  SB_FEEDBACK (`verdict`); any other button (a link button's click, say) is answered 200 `{"ignored": ...}`
  and changes nothing.
The success reply is 200 JSON that Slack shows the user for commands and ignores for events:
`{"response_type": "ephemeral", "text": "Got it — looking for an answer…", "accepted": N, "ids": [...]}`.
Slack retries (3 times, +1 min, +5 min) when it gets no 2xx within 3 s; dedup on event_id covers them.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from schemas.item import AccountRef, Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import (
    Draft,
    InboundRequest,
    Reply,
    Verdict,
    any_digest_matches,
    check_timestamp,
    decode_json,
    hmac_digest,
    require_secrets,
)
from services.ingest.adapters.fields import as_dict, as_str, decode_form, stable_hash, unix_utc
from services.ingest.errors import AuthenticationFailed, MalformedBody, NormaliseError
from services.ingest.text import html_to_text

kind = "slack"
content_types = frozenset({"application/json", "application/x-www-form-urlencoded"})
SIGNATURE = "x-slack-signature"
TIMESTAMP = "x-slack-request-timestamp"
FEEDBACK_EVENTS = {"message", "app_mention"}
ACK_TEXT = "Got it — looking for an answer…"
# The "did this help?" buttons deliver puts on Slack answers (contract 5): action_id -> verdict
FEEDBACK_ACTIONS = {"sb_helpful": "helpful", "sb_not_helpful": "not_helpful"}


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    require_secrets(secrets)
    ts = (request.headers.get(TIMESTAMP) or "").strip()
    signature = (request.headers.get(SIGNATURE) or "").strip()
    if not ts or not signature:
        raise AuthenticationFailed("missing X-Slack-Signature or X-Slack-Request-Timestamp")
    if not ts.isascii() or not ts.isdigit() or len(ts) > 16:
        raise AuthenticationFailed("X-Slack-Request-Timestamp is not a unix timestamp")
    check_timestamp(int(ts), now)
    if not signature.startswith("v0="):
        raise AuthenticationFailed("X-Slack-Signature is not a v0 signature")
    message = f"v0:{ts}:".encode() + request.body
    expected = ["v0=" + hmac_digest(s.encode("utf-8"), message).hex() for s in secrets]
    if not any_digest_matches(expected, [signature.lower()]):
        raise AuthenticationFailed("X-Slack-Signature does not match any configured signing secret")


def decode(request: InboundRequest) -> Any:
    if request.content_type == "application/x-www-form-urlencoded":
        form = decode_form(request.body)
        if "payload" in form and "command" not in form:
            payload = decode_json(form["payload"].encode("utf-8", "surrogatepass"))
            if not isinstance(payload, dict):
                raise MalformedBody("interactivity payload is not a JSON object")
            return {"_interactivity": payload}
        return {"_form": form}
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    if isinstance(payload, dict) and payload.get("type") == "url_verification":
        challenge = payload.get("challenge")
        return Reply(200, json.dumps({"challenge": challenge if isinstance(challenge, str) else ""}).encode())
    form = as_dict(payload.get("_form")) if isinstance(payload, dict) else {}
    if form.get("ssl_check") == "1":
        return Reply(200, b"", media_type="text/plain")
    interaction = _block_actions(payload)
    if interaction is not None and _feedback_action(interaction) is None:
        # Slack wants a 200 for every interaction (a URL button's click too), else it shows the user an error
        return Reply(200, json.dumps({"ignored": "not a Switchboard feedback button (sb_helpful / sb_not_helpful)"}).encode())
    return None


def _block_actions(payload: Any) -> dict[str, Any] | None:
    interaction = payload.get("_interactivity") if isinstance(payload, dict) else None
    return interaction if isinstance(interaction, dict) and interaction.get("type") == "block_actions" else None


def _feedback_action(interaction: dict[str, Any]) -> dict[str, Any] | None:
    """The first of our "did this help?" buttons among the interaction's actions, or None."""
    actions = interaction.get("actions")
    for action in actions if isinstance(actions, list) else []:
        if as_str(as_dict(action).get("action_id")) in FEEDBACK_ACTIONS:
            return as_dict(action)
    return None


def verdict(payload: Any, request: InboundRequest) -> Verdict | None:
    """A `block_actions` interaction on one of our feedback buttons -> its Verdict; None otherwise."""
    interaction = _block_actions(payload)
    action = _feedback_action(interaction) if interaction is not None else None
    if interaction is None or action is None:
        return None
    user = as_str(as_dict(interaction.get("user")).get("id"))
    choice = FEEDBACK_ACTIONS[as_str(action.get("action_id")) or ""]
    return Verdict(item_id=as_str(action.get("value")) or "", verdict=choice, by=user)  # type: ignore[arg-type]


def _text(value: Any) -> tuple[str | None, str | None]:
    s = as_str(value)
    if not s:
        return None, None
    plain, html = html_to_text(s)
    return plain or None, html


def _command(form: dict[str, Any], request: InboundRequest) -> Draft:
    text, html = _text(form.get("text"))
    user = as_str(form.get("user_id"))
    team = as_str(form.get("team_id"))
    attributes = {
        k: v
        for k, v in {
            "command": as_str(form.get("command")),
            "channel_id": as_str(form.get("channel_id")),
            "channel_name": as_str(form.get("channel_name")),
            "team_id": team,
            "team_domain": as_str(form.get("team_domain")),
            "response_url": as_str(form.get("response_url")),
            "enterprise_id": as_str(form.get("enterprise_id")),
        }.items()
        if v is not None
    }
    return Draft(
        delivery_id=as_str(form.get("trigger_id")) or stable_hash(request.body),
        event_type="slash_command",
        category="feedback" if text else "system",
        text=text,
        html=html,
        person=Person(id=user, name=as_str(form.get("user_name"))) if user else None,
        attributes=attributes,
        raw=form,
    )


def _interactivity(payload: dict[str, Any], request: InboundRequest) -> Draft:
    ptype = as_str(payload.get("type")) or "interactivity"
    user = as_dict(payload.get("user"))
    message = as_dict(payload.get("message"))
    team = as_str(as_dict(payload.get("team")).get("id"))
    attributes = {
        k: v
        for k, v in {
            "callback_id": as_str(payload.get("callback_id")),
            "channel_id": as_str(as_dict(payload.get("channel")).get("id")),
            "team_id": team,
            "response_url": as_str(payload.get("response_url")),
            "message_ts": as_str(message.get("ts")),
            "message_user": as_str(message.get("user")),
        }.items()
        if v is not None
    }
    text, html = _text(message.get("text")) if ptype == "message_action" else (None, None)
    uid = as_str(user.get("id"))
    return Draft(
        delivery_id=as_str(payload.get("trigger_id")) or stable_hash(request.body),
        event_type=ptype,
        category="feedback" if text else "system",
        text=text,
        html=html,
        person=Person(id=as_str(message.get("user")) or uid, name=as_str(user.get("username")))
        if (uid or message.get("user"))
        else None,
        attributes=attributes,
        raw=payload,
    )


def _event_callback(payload: dict[str, Any], request: InboundRequest) -> Draft:
    event = as_dict(payload.get("event"))
    etype = as_str(event.get("type")) or "event"
    subtype = as_str(event.get("subtype"))
    team = as_str(payload.get("team_id"))
    attributes = {
        k: v
        for k, v in {
            "team_id": team,
            "api_app_id": as_str(payload.get("api_app_id")),
            "channel": as_str(event.get("channel")),
            "channel_type": as_str(event.get("channel_type")),
            "ts": as_str(event.get("ts")),
            "thread_ts": as_str(event.get("thread_ts")),
            "subtype": subtype,
            "user_team": as_str(event.get("user_team")),
        }.items()
        if v is not None
    }
    is_bot = bool(event.get("bot_id")) or subtype == "bot_message" or bool(event.get("bot_profile"))
    text, html = _text(event.get("text"))
    user = as_str(event.get("user"))
    customer = etype in FEEDBACK_EVENTS and not is_bot and subtype in (None, "thread_broadcast", "file_share")
    return Draft(
        delivery_id=as_str(payload.get("event_id")) or stable_hash(request.body),
        event_type=etype,
        category="feedback" if customer and text else "system",
        text=text,
        html=html,
        occurred_at=unix_utc(payload.get("event_time")),
        person=Person(id=user) if user else None,
        account_hint=AccountRef(external_id=as_str(event.get("user_team")))
        if as_str(event.get("user_team")) and as_str(event.get("user_team")) != team
        else None,
        attributes=attributes,
        raw=payload,
    )


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("Slack body must be a JSON object or a form")
    if "_form" in payload:
        form = as_dict(payload["_form"])
        if not as_str(form.get("command")):
            raise NormaliseError("form-encoded Slack request without `command`")
        return [_command(form, request)]
    if "_interactivity" in payload:
        return [_interactivity(as_dict(payload["_interactivity"]), request)]
    ptype = as_str(payload.get("type"))
    if ptype == "event_callback":
        return [_event_callback(payload, request)]
    if ptype == "app_rate_limited" or ptype:
        return [
            Draft(delivery_id=stable_hash(request.body), event_type=ptype, category="system", raw=payload)
        ]
    raise NormaliseError("Slack body without `type`")


def acknowledge(ids: Sequence[str]) -> Reply:
    body = {"response_type": "ephemeral", "text": ACK_TEXT, "accepted": len(ids), "ids": list(ids)}
    return Reply(200, json.dumps(body, ensure_ascii=False).encode("utf-8"))
