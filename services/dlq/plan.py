"""What replaying one dead letter publishes, and where (pure: no I/O, no clock).

- stage `ingest` (a verified request whose payload could not be normalised): the raw body is normalised
  again with the source's adapter (after the fix) and the items go to SB_EVENTS under their ordinary
  subjects, exactly as ingest would have published them. The signature is NOT checked again: it was
  verified when the request was received (dead letters are only written after verification), and the
  timestamp would be outside tolerance by now anyway.
- stage `enrich`: the item goes back into SB_EVENTS under `sb.events.<source>.<id>.replay<seq>`.
- stage `route`: the enriched item goes back into SB_ENRICHED under `sb.enriched.<source>.<id>.replay<seq>`.
- stage `deliver`: the message deliver failed on goes into SB_OUTBOX (`sb.outbox.answer|notify.<id>.replay<seq>`,
  `sb.outbox.reply.<id>.<n>.replay<seq>`), never back into SB_ANSWERS or a team queue (which people read);
  the delivery ledger lets a `failed` delivery be tried again and keeps a `sent` one from being sent twice.

`<seq>` is the dead letter's sequence in SB_DLQ, so replaying the same dead letter twice targets the same
subject, which the stream (one message per subject) refuses: a double replay creates nothing new. The
next stage's own output subjects are keyed by item id too, so a replay can never put a second copy of
an item in a queue.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from schemas.item import DeadLetter, Item
from services.common import names
from services.config.models import Config
from services.ingest.adapters import adapter_for
from services.ingest.adapters.base import InboundRequest
from services.ingest.pipeline import normalise


class NotReplayable(Exception):
    """This dead letter cannot be replayed as it is (the reason says why)."""


@dataclass(frozen=True)
class Replayed:
    """The mark left in KV bucket sb_dlq_replays when a dead letter was replayed."""

    seq: int
    replayed_at: datetime
    subjects: list[str]
    new: int  # messages the replay stored (0: everything was already there)

    def to_json(self) -> bytes:
        return json.dumps(
            {"seq": self.seq, "replayed_at": self.replayed_at.isoformat(), "subjects": self.subjects, "new": self.new}
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Replayed":
        d = json.loads(data)
        return cls(int(d["seq"]), datetime.fromisoformat(d["replayed_at"]), list(d["subjects"]), int(d.get("new", 0)))


@dataclass(frozen=True)
class Entry:
    """One message of SB_DLQ."""

    seq: int
    subject: str
    dead_letter: DeadLetter
    replayed: Replayed | None = None

    @property
    def key(self) -> str:
        return replay_key(self.subject)

    def to_json(self) -> dict[str, Any]:
        body = json.loads(self.dead_letter.model_dump_json())
        body.update(
            seq=self.seq,
            subject=self.subject,
            replayed=self.replayed is not None,
            replayed_at=self.replayed.replayed_at.isoformat() if self.replayed else None,
            replayed_to=self.replayed.subjects if self.replayed else [],
        )
        return body


@dataclass(frozen=True)
class Publish:
    subject: str
    payload: bytes
    msg_id: str
    item_id: str


def replay_key(dlq_subject: str) -> str:
    """KV key of a dead letter's replay mark: its subject after `sb.dlq.` (e.g. `route.<id>`)."""
    prefix = names.DLQ_PREFIX + "."
    return dlq_subject[len(prefix) :] if dlq_subject.startswith(prefix) else dlq_subject


def request_of(dl: DeadLetter) -> InboundRequest:
    """The request ingest received, rebuilt from an ingest dead letter (secret headers were never kept)."""
    if dl.raw_body is not None:
        body = dl.raw_body.encode("utf-8")
    elif dl.raw_body_b64 is not None:
        body = base64.b64decode(dl.raw_body_b64)
    else:
        raise NotReplayable("the dead letter holds no request body")
    path = dl.headers.get(":path", f"/webhooks/{dl.source}")
    headers = {k.lower(): v for k, v in dl.headers.items() if not k.startswith(":")}
    query = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    return InboundRequest(method=dl.headers.get(":method", "POST"), path=path, headers=headers, body=body, query=query)


def renormalise(dl: DeadLetter, config: Config) -> list[Item]:
    """Normalise an ingest dead letter's raw body again with its source's adapter (no verification)."""
    if not dl.source:
        raise NotReplayable("the dead letter names no source")
    source = config.source(dl.source)
    if source is None:
        raise NotReplayable(f"source {dl.source!r} is not in the config any more")
    adapter = adapter_for(source.kind)
    if adapter is None:
        raise NotReplayable(f"no adapter for kind {source.kind!r}")
    request = request_of(dl)
    try:
        payload = adapter.decode(request)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        raise NotReplayable(f"body still does not decode: {exc}") from None
    accepted = normalise(request, payload, source, adapter, dl.failed_at)
    if accepted.dead_letter is not None:
        raise NotReplayable(f"still cannot be normalised: {accepted.dead_letter.reason}")
    if not accepted.items:
        raise NotReplayable("the payload holds no event")
    return accepted.items


def plan_replay(entry: Entry, config: Config | None) -> list[Publish]:
    """The messages that replaying `entry` publishes. Raises NotReplayable."""
    dl = entry.dead_letter
    if dl.stage == "ingest":
        if config is None:
            raise NotReplayable("replaying an ingest dead letter needs the config (--config)")
        return [
            Publish(names.event_subject(item.source, item.id), item.model_dump_json().encode(), item.id, item.id)
            for item in renormalise(dl, config)
        ]
    if dl.stage == "deliver":
        payload = dl.item.model_dump_json().encode() if dl.item else (dl.raw_body or "").encode()
        if not payload:
            raise NotReplayable("the dead letter holds no message")
        subject = names.deliver_replay_subject(dl.headers.get("subject", ""), dl.id, entry.seq)
        return [Publish(subject, payload, subject, dl.id)]
    if dl.item is None:
        raise NotReplayable("the dead letter holds no item (the message was not a valid item)")
    prefix = names.EVENTS_PREFIX if dl.stage == "enrich" else names.ENRICHED_PREFIX
    subject = names.replay_subject(prefix, dl.item.source, dl.item.id, entry.seq)
    return [Publish(subject, dl.item.model_dump_json().encode(), subject, dl.item.id)]
