"""The item: one piece of customer input as it travels the pipeline.

Ingest creates it (verified, normalised), enrich fills `account`, `area`, `intent` and `kb`,
route fills `decision` (and `answer` when the knowledge base answered it). Every stage
publishes the whole item, so any NATS client reading any stream gets the full picture.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.delivery import RequestRecord

SCHEMA_VERSION = 1

Category = Literal["feedback", "account", "usage", "system"]
Action = Literal["route", "answer", "drop", "record"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Person(_Model):
    """Who wrote or triggered the item, as far as the source tells."""

    id: str | None = None
    email: str | None = None
    name: str | None = None
    external_id: str | None = None


class AccountRef(_Model):
    """What the source says about the account (a hint, not the directory's record)."""

    id: str | None = None
    external_id: str | None = None
    domain: str | None = None
    name: str | None = None


class Account(_Model):
    """An account from the directory (accounts.csv, CRM events, CRM lookups)."""

    id: str
    name: str | None = None
    domain: str | None = None
    arr: float | None = None
    plan: str | None = None
    owner: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    matched_by: str | None = None  # "id" | "external_id" | "domain"


class AccountUpdate(_Model):
    """A CRM or analytics event's change to the account directory."""

    id: str
    name: str | None = None
    domain: str | None = None
    arr: float | None = None
    plan: str | None = None
    owner: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class Candidate(_Model):
    """One of the judge's top guesses, with its calibrated-to-be score (for the decision audit in `trace`)."""

    id: str
    score: float


class AreaMatch(_Model):
    id: str  # an area id from areas.yaml, or "unknown" when the matcher abstains
    confidence: float
    best: str | None = None  # the best guess even when abstaining
    candidates: list[Candidate] = Field(default_factory=list)  # the top three areas, best first


class KbMatch(_Model):
    article: str | None
    score: float
    title: str | None = None
    url: str | None = None
    candidates: list[Candidate] = Field(default_factory=list)  # the top three articles, best first


class Decision(_Model):
    rule: str | None  # the rule that fired; None for built-in outcomes
    action: Action
    team: str | None = None
    priority: str | None = None
    reason: str
    config_version: str | None = None
    thresholds: dict[str, float] | None = None  # the thresholds in force (kb, area, intent) of that version


class Answer(_Model):
    article: str
    score: float
    title: str | None = None
    url: str | None = None


class Item(_Model):
    schema_version: int = SCHEMA_VERSION
    id: str
    source: str  # the configured source name
    kind: str  # the adapter kind
    event_type: str
    category: Category = "feedback"
    delivery_id: str
    received_at: datetime
    occurred_at: datetime | None = None
    title: str | None = None
    text: str | None = None
    html: str | None = None  # the original markup when `text` was stripped from HTML
    url: str | None = None
    person: Person | None = None
    account_hint: AccountRef | None = None
    account_update: AccountUpdate | None = None
    score: float | None = None  # NPS or rating, when the source carries one
    attributes: dict[str, Any] = Field(default_factory=dict)
    raw: Any = None  # the parsed payload of this event, as the source sent it
    # enrich
    account: Account | None = None
    area: AreaMatch | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    kb: KbMatch | None = None
    enriched_at: datetime | None = None
    config_version: str | None = None  # the config version enrich judged it with; route decides with the same
    # route
    decision: Decision | None = None
    answer: Answer | None = None
    decided_at: datetime | None = None
    answer_rejected: bool = False  # the asker said the KB answer did not help; re-decided without answer rules


def item_id(source: str, delivery_id: str) -> str:
    """Deterministic id: a sender's redelivery of the same event gets the same id (that is the dedup key)."""
    digest = hashlib.sha256(f"{source}\x00{delivery_id}".encode("utf-8", "surrogatepass")).hexdigest()  # lone surrogates too
    return digest[:24]


class DeadLetter(_Model):
    """An item (or a raw request) that a stage could not process, with the reason. Replayable."""

    id: str
    stage: Literal["ingest", "enrich", "route", "deliver"]
    reason: str
    error: str | None = None
    attempts: int = 1
    failed_at: datetime
    source: str | None = None
    item: Item | None = None
    raw_body: str | None = None  # the request body as text (ingest failures), lossless for UTF-8 senders
    raw_body_b64: str | None = None  # set instead of raw_body when the body is not UTF-8
    headers: dict[str, str] = Field(default_factory=dict)  # non-secret request headers
    replays: int = 0
    request: RequestRecord | None = None  # deliver: the outbound request that failed (no auth header, no secret)
