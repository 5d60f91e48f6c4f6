"""Reading SB_DLQ (with stream sequences) and the replay marks in KV bucket sb_dlq_replays."""

from __future__ import annotations

from typing import Sequence

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from schemas.item import DeadLetter
from services.common import names
from services.dlq.plan import Entry, Replayed

KV_STREAM = f"KV_{names.DLQ_REPLAYS_BUCKET}"
KV_SUBJECT_PREFIX = f"$KV.{names.DLQ_REPLAYS_BUCKET}."


async def read_stream(
    js: JetStreamContext, stream: str, filters: Sequence[str]
) -> list[tuple[int, str, bytes, dict[str, str]]]:
    """(stream seq, subject, data, headers) of every message on `filters`, oldest first, without consuming."""
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL,
        inactive_threshold=5.0,
        filter_subjects=list(filters) if len(filters) > 1 else None,
        filter_subject=filters[0] if len(filters) == 1 else None,
        mem_storage=True,
    )
    try:
        info = await js.add_consumer(stream, config)
    except NotFoundError:
        return []
    pending = info.num_pending
    out: list[tuple[int, str, bytes, dict[str, str]]] = []
    try:
        if pending:
            sub = await js.pull_subscribe_bind(info.name, stream=stream)
            try:
                while len(out) < pending:
                    try:
                        msgs = await sub.fetch(min(256, pending - len(out)), timeout=2.0)
                    except (NatsTimeout, TimeoutError):
                        break
                    for m in msgs:
                        seq = m.metadata.sequence.stream if m.metadata else 0
                        out.append((seq, m.subject, m.data, dict(m.headers or {})))
            finally:
                await sub.unsubscribe()
    finally:
        try:
            await js.delete_consumer(stream, info.name)
        except Exception:  # noqa: BLE001 - it expires by itself
            pass
    return out


async def replay_marks(js: JetStreamContext) -> dict[str, Replayed]:
    """Every replay mark, by key (`<stage>.<id>[.replay<n>]`)."""
    marks: dict[str, Replayed] = {}
    for _, subject, data, headers in await read_stream(js, KV_STREAM, [KV_SUBJECT_PREFIX + ">"]):
        key = subject[len(KV_SUBJECT_PREFIX) :]
        if headers.get("KV-Operation") in ("DEL", "PURGE") or not data:
            marks.pop(key, None)
            continue
        try:
            marks[key] = Replayed.from_json(data)
        except (ValueError, KeyError):
            continue
    return marks


def _entry(seq: int, subject: str, data: bytes, marks: dict[str, Replayed]) -> Entry:
    entry = Entry(seq, subject, DeadLetter.model_validate_json(data))
    mark = marks.get(entry.key)
    # a mark for an older dead letter of the same subject (the stream was purged and reused) does not count
    if mark is not None and mark.seq == seq:
        return Entry(seq, subject, entry.dead_letter, mark)
    return entry


async def read_entries(js: JetStreamContext, stage: str | None = None, limit: int | None = None) -> list[Entry]:
    """Dead letters, oldest first (the last `limit`), optionally of one stage, with their replay marks."""
    filt = f"{names.DLQ_PREFIX}.{stage}.>" if stage else names.all_stream_filter(names.DLQ)
    rows = await read_stream(js, names.DLQ, [filt])
    if limit is not None:
        rows = rows[-limit:]
    marks = await replay_marks(js) if rows else {}
    return [_entry(seq, subject, data, marks) for seq, subject, data, _ in rows]


def is_seq(ident: str) -> bool:
    """Dead letters are named by their SB_DLQ sequence (digits) or by item id (24 hex characters)."""
    return ident.isdigit() and len(ident) < 24


async def find_entries(js: JetStreamContext, ident: str) -> list[Entry]:
    """The dead letter with sequence `ident`, or every dead letter of item `ident`."""
    if is_seq(ident):
        try:
            msg = await js.get_msg(names.DLQ, int(ident))
        except NotFoundError:
            return []
        if not msg.data or not msg.subject:
            return []
        return [_entry(int(ident), msg.subject, msg.data, await replay_marks(js))]
    if not names.TOKEN_RE.match(ident):
        return []
    rows = await read_stream(js, names.DLQ, [f"{names.DLQ_PREFIX}.*.{ident}", f"{names.DLQ_PREFIX}.*.{ident}.>"])
    marks = await replay_marks(js) if rows else {}
    return [_entry(seq, subject, data, marks) for seq, subject, data, _ in rows]
