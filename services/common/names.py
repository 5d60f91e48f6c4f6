"""Every NATS name Switchboard uses: streams, subjects, durable consumers and KV buckets.

Nothing else in the code base spells a subject. Subjects carry the item id as their last
token, so `switchboard trace ID` (or any NATS client) can find an item in every stream, and
a stream that keeps one message per subject refuses a second copy of the same item.
"""

from __future__ import annotations

import re

# Streams
EVENTS = "SB_EVENTS"  # verified, normalised items from ingest
ENRICHED = "SB_ENRICHED"  # items with account, area, intent and KB match
QUEUES = "SB_QUEUES"  # per-team queues: the PMs' inboxes
ANSWERS = "SB_ANSWERS"  # items answered from the knowledge base
DROPPED = "SB_DROPPED"  # items a `drop` rule removed, with the reason
RECORDS = "SB_RECORDS"  # account and usage events, applied to the directory
DLQ = "SB_DLQ"  # dead letters: what a stage could not process, with the reason
ACTIVITY = "SB_ACTIVITY"  # every inbox state change: sb.activity.<team>.<item id> (many per item: the history)
OUTBOX = "SB_OUTBOX"  # what deliver must send besides answers and notifications: PM replies, digests
FEEDBACK = "SB_FEEDBACK"  # "did this answer help?": the first verdict per item (route re-decides "not helpful")

# Subject prefixes (the stream's subjects are `<prefix>.>`)
EVENTS_PREFIX = "sb.events"
ENRICHED_PREFIX = "sb.enriched"
QUEUE_PREFIX = "sb.queue"
ANSWERS_PREFIX = "sb.answers"
DROPPED_PREFIX = "sb.dropped"
RECORDS_PREFIX = "sb.records"
DLQ_PREFIX = "sb.dlq"
ACTIVITY_PREFIX = "sb.activity"
OUTBOX_PREFIX = "sb.outbox"
FEEDBACK_PREFIX = "sb.feedback"
REPLAY_TOKEN = "replay"

STREAM_PREFIXES = {
    EVENTS: EVENTS_PREFIX,
    ENRICHED: ENRICHED_PREFIX,
    QUEUES: QUEUE_PREFIX,
    ANSWERS: ANSWERS_PREFIX,
    DROPPED: DROPPED_PREFIX,
    RECORDS: RECORDS_PREFIX,
    DLQ: DLQ_PREFIX,
    ACTIVITY: ACTIVITY_PREFIX,
    OUTBOX: OUTBOX_PREFIX,
    FEEDBACK: FEEDBACK_PREFIX,
}

# Durable pull consumers
ENRICH_CONSUMER = "enrich"
ROUTE_CONSUMER = "route"
DELIVER_ANSWERS_CONSUMER = "deliver-answers"  # SB_ANSWERS -> comments in the source tool
DELIVER_QUEUES_CONSUMER = "deliver-queues"  # SB_QUEUES -> team notifications (teams.yaml notify)
DELIVER_OUTBOX_CONSUMER = "deliver-outbox"  # SB_OUTBOX -> PM replies, digests
ROUTE_FEEDBACK_CONSUMER = "route-feedback"  # SB_FEEDBACK -> "not helpful" answers re-decided into a team queue

# KV buckets
ACCOUNTS_BUCKET = "sb_accounts"
DECISIONS_BUCKET = "sb_decisions"  # the first decision per item id: a redelivery goes where the first went
DLQ_REPLAYS_BUCKET = "sb_dlq_replays"  # dead letters replayed: key = the dead letter's subject after `sb.dlq.`
DELIVERIES_BUCKET = "sb_deliveries"  # the delivery ledger: key = <item id>.<target>, value = Delivery JSON
CONFIG_BUCKET = "sb_config"  # published config versions: `v.<version>` = the folder's files, `current` = the live one
CONFIG_CURRENT_KEY = "current"
ITEM_STATE_BUCKET = "sb_item_state"  # PM inbox state per routed item: key = item id, CAS on the revision
SCHEDULE_BUCKET = "sb_schedule"  # scheduled-digest leases: key = digest.<team>.<slot>, created once (kv.create)
THEMES_BUCKET = "sb_themes"  # themes (contract 7): t.<theme id> = Theme JSON, a.<area> = its live theme ids; CAS

UNROUTED_TEAM = "unrouted"

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def check_token(value: str) -> str:
    """Source names, team names and item ids become subject tokens: no dots, spaces or wildcards."""
    if not TOKEN_RE.match(value):
        raise ValueError(f"{value!r} must contain only letters, digits, '-' and '_'")
    return value


def event_subject(source: str, item_id: str) -> str:
    return f"{EVENTS_PREFIX}.{source}.{item_id}"


def replay_subject(prefix: str, source: str, item_id: str, replay_no: int) -> str:
    """A replayed item re-enters a stage's input stream under its own subject (the original is still there)."""
    return f"{prefix}.{source}.{item_id}.{REPLAY_TOKEN}{replay_no}"


def enriched_subject(source: str, item_id: str) -> str:
    return f"{ENRICHED_PREFIX}.{source}.{item_id}"


def queue_subject(team: str, item_id: str) -> str:
    return f"{QUEUE_PREFIX}.{team}.{item_id}"


def queue_filter(team: str) -> str:
    """What a PM's NATS client subscribes to for one team's queue."""
    return f"{QUEUE_PREFIX}.{team}.>"


def answer_subject(source: str, item_id: str) -> str:
    return f"{ANSWERS_PREFIX}.{source}.{item_id}"


def dropped_subject(source: str, item_id: str) -> str:
    return f"{DROPPED_PREFIX}.{source}.{item_id}"


def record_subject(source: str, item_id: str) -> str:
    return f"{RECORDS_PREFIX}.{source}.{item_id}"


def dlq_subject(stage: str, item_id: str, replay: str | None = None) -> str:
    """One dead letter per (stage, input message): `sb.dlq.<stage>.<id>`, or `...<id>.replay<n>` when the
    message that failed was itself a replay. SB_DLQ keeps one message per subject, so a stage that fails the
    same message again (its ack was lost) cannot dead-letter it twice."""
    base = f"{DLQ_PREFIX}.{stage}.{item_id}"
    return f"{base}.{replay}" if replay else base


def split_item_subject(subject: str) -> tuple[str, str | None]:
    """(item id, replay token or None) of an item subject `<prefix>.<source|team>.<id>[.replay<n>]`."""
    tokens = subject.split(".")
    if len(tokens) >= 5 and tokens[-1].startswith(REPLAY_TOKEN) and tokens[-1][len(REPLAY_TOKEN):].isdigit():
        return tokens[-2], tokens[-1]
    return tokens[-1], None


def activity_subject(team: str, item_id: str) -> str:
    """One event per inbox state change of an item (claim, snooze, reassign, resolve, reopen)."""
    return f"{ACTIVITY_PREFIX}.{team}.{item_id}"


def activity_filter(team: str | None = None, item_id: str | None = None) -> str:
    return f"{ACTIVITY_PREFIX}.{team or '*'}.{item_id or '*'}"


def outbox_subject(kind: str, item_id: str, seq: str | None = None) -> str:
    """`sb.outbox.<kind>.<item id>[.<seq>]`; kind: `reply` (a PM's resolution note), `digest` (a team
    digest). One message per subject."""
    return f"{OUTBOX_PREFIX}.{kind}.{item_id}" + (f".{seq}" if seq else "")


def feedback_subject(item_id: str) -> str:
    """The first "did this help?" verdict on an answered item; SB_FEEDBACK keeps one per subject."""
    return f"{FEEDBACK_PREFIX}.{item_id}"


def delivery_key(item_id: str, target: str) -> str:
    """Ledger key of one delivery: the item and the target (`answer`, `notify.<team>`, `reply.<n>`...)."""
    return f"{kv_token(item_id)}.{kv_token(target)}"


def config_version_key(version: str) -> str:
    return "v." + kv_token(version)


def all_stream_filter(stream: str) -> str:
    return f"{STREAM_PREFIXES[stream]}.>"


def account_key(account_id: str) -> str:
    return "id." + kv_token(account_id)


def domain_key(domain: str) -> str:
    return "domain." + kv_token(domain.lower())


def external_key(external_id: str) -> str:
    return "ext." + kv_token(external_id)


def kv_token(value: str) -> str:
    """KV keys allow [-/_=.a-zA-Z0-9]; anything else is hex-escaped so every id has one key."""
    return "".join(c if (c.isascii() and (c.isalnum() or c in "-_.")) else f"={ord(c):x}" for c in value)


# deliver: what a dead letter of the deliver stage is called, and where its replay goes
OUTBOX_REPLY = "reply"  # sb.outbox.reply.<id>.<n>: a PM's reply (schemas.outbox.Reply)
OUTBOX_ANSWER = "answer"  # sb.outbox.answer.<id>.replay<seq>: an answer delivery replayed from the DLQ (Item)
OUTBOX_NOTIFY = "notify"  # sb.outbox.notify.<id>.replay<seq>: a team notification replayed from the DLQ (Item)
OUTBOX_DIGEST = "digest"  # sb.outbox.digest.<team>.<slot>: a team's scheduled digest (schemas.digest.DigestMessage)


def digest_subject(team: str, slot: str) -> str:
    """One message per team and due slot: a second publish of the same slot is refused by SB_OUTBOX."""
    return outbox_subject(OUTBOX_DIGEST, check_token(team), check_token(slot))


def schedule_key(team: str, slot: str) -> str:
    """The lease of one team's digest in one due slot (KV sb_schedule)."""
    return f"digest.{kv_token(team)}.{kv_token(slot)}"


def deliver_input(subject: str) -> tuple[str, str, str | None, str | None]:
    """(origin, item id, reply number, replay token) of a message the deliver stage consumes: origin `answer`
    (sb.answers.<source>.<id>[.replay<n>], sb.outbox.answer.<id>.replay<n>), `notify` (sb.queue.<team>.<id>,
    sb.outbox.notify.<id>.replay<n>) or `reply` (sb.outbox.reply.<id>.<n>[.replay<m>]); anything else in
    SB_OUTBOX: origin = its kind token."""
    tokens = subject.split(".")
    if subject.startswith(OUTBOX_PREFIX + ".") and len(tokens) >= 4:
        kind, item_id = tokens[2], tokens[3]
        rest = tokens[4:]
        replay = next((t for t in rest if t.startswith(REPLAY_TOKEN)), None)
        number = next((t for t in rest if not t.startswith(REPLAY_TOKEN)), None)
        return kind, item_id, number, replay
    item_id, replay = split_item_subject(subject)
    return ("notify" if subject.startswith(QUEUE_PREFIX + ".") else "answer"), item_id, None, replay


def deliver_dead_letter_token(subject: str) -> tuple[str, str | None]:
    """(item id, suffix) of the dead letter for a deliver input: `sb.dlq.deliver.<id>[.replay<n>]` for an answer,
    `<id>.notify[-replay<n>]` for a team notification, `<id>.reply<k>[-replay<n>]` for a PM reply, so one item's
    answer, notification and replies never share (and lose) one dead-letter subject."""
    origin, item_id, number, replay = deliver_input(subject)
    if origin == OUTBOX_ANSWER:
        return item_id, replay
    base = f"{origin}{number or ''}"
    return item_id, f"{base}-{replay}" if replay else base


def deliver_replay_subject(original: str, item_id: str, replay_no: int) -> str:
    """Where `switchboard dlq replay` puts a deliver dead letter's message: SB_OUTBOX, so the answers and queue
    streams (what `answers` and the inbox list) never hold a second copy of an item."""
    origin, _, number, _ = deliver_input(original)
    token = f"{REPLAY_TOKEN}{replay_no}"
    if origin == OUTBOX_REPLY:
        return f"{OUTBOX_PREFIX}.{OUTBOX_REPLY}.{item_id}.{number}.{token}"
    return outbox_subject(origin, item_id, token)


def kv_stream(bucket: str) -> str:
    """The stream behind a KV bucket (read it without consuming, e.g. every item state at once)."""
    return f"KV_{bucket}"


def kv_filter(bucket: str) -> str:
    return f"$KV.{bucket}.>"


def rejected_decision_key(item_id: str) -> str:
    """Decisions-KV key of the re-decision of an answer the asker rejected ("did this help?" -> no); the
    item's first decision (the answer) stays under the plain item id."""
    return f"{kv_token(item_id)}.rejected"


def theme_key(theme_id: str) -> str:
    return "t." + kv_token(theme_id)


def theme_area_key(area: str) -> str:
    return "a." + kv_token(area)


THEME_KEYS = "t.>"  # every theme entry (the enrich cache watches them)
