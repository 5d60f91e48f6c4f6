"""The hot path: `POST /webhooks/{source}` as a plain ASGI callable.

It skips Starlette's Request/Response objects and middleware stack, because every microsecond here is paid
once per webhook. `make bench` holds ingest against a bare Starlette route plus one JetStream publish.
Checks run in the contract's order, and the first failure answers: unknown source 404, rate limit 429,
size 413, content type 415, authentication 401/403, body 400. Items are published to SB_EVENTS. The sender
gets 202 only after JetStream has acknowledged every one of them, and 503 with Retry-After otherwise.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import parse_qsl

from nats.js import JetStreamContext

from schemas.item import DeadLetter
from services.common import names
from services.common.acked_publish import AckedPublisher
from services.common.broker import Stored, publish_item
from services.common.logging import get_logger
from services.common.settings import Settings
from services.ingest.adapters.base import InboundRequest, Reply, Verdict
from services.ingest.errors import (
    PayloadTooLarge,
    RateLimited,
    RequestRejected,
    UnknownSource,
    UnsupportedContentType,
)
from services.ingest.item_json import Encoded
from services.ingest.metrics import IngestMetrics, SourceCounters
from services.ingest.pipeline import accept, encode
from services.ingest.ratelimit import retry_after_seconds
from services.ingest.runtime import SourceRuntime
from services.ingest.verdicts import FeedbackRecorder

log = get_logger("switchboard.ingest")

PREFIX = "/webhooks/"
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
_JSON = b"application/json"


class BrokerDown(Exception):
    pass


class Receiver:
    def __init__(
        self, sources: Mapping[str, SourceRuntime], js: JetStreamContext, settings: Settings, metrics: IngestMetrics,
        publisher: AckedPublisher | None = None,
    ) -> None:
        """Items are published by `publisher` (the app's: services/common/acked_publish.py), else by `js.publish`."""
        self.sources = sources
        self.js = js
        self.publish: Callable[[str, bytes, str, float], Awaitable[Stored]] = (
            publisher.publish if publisher is not None else partial(publish_item, js)
        )
        self.settings = settings
        self.metrics = metrics
        self.feedback = FeedbackRecorder(js, metrics, settings)
        self.counters = SourceCounters(metrics, sources)  # children bound once, not looked up per request
        # structlog's module-level logger is a lazy proxy that re-binds on every call (~1.4 µs even for a
        # filtered-out debug line); the app is built after logging is configured, so bind it here, once.
        self.item_log = log.bind()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        name = scope["path"][len(PREFIX):]
        if scope["method"] != "POST":
            await _respond(send, 405, b'{"error": "use POST"}', _JSON, {"allow": "POST"})
            return
        status = 500
        try:
            reply = await self._handle(name, scope, receive)
            status = reply.status
            await _respond(send, reply.status, reply.body, reply.media_type.encode(), reply.headers)
        except RequestRejected as exc:
            status = exc.status
            headers = {"retry-after": str(exc.retry_after)} if exc.retry_after else {}
            log.info("webhook.rejected", source=name, status=status, reason=exc.message)
            await _respond(send, status, json.dumps({"error": exc.message}).encode(), _JSON, headers)
        except BrokerDown as exc:
            status = 503
            log.warning("webhook.unavailable", source=name, error=str(exc))
            body = b'{"error": "broker unavailable, retry later"}'
            await _respond(send, 503, body, _JSON, {"retry-after": "5"})
        finally:
            self.counters.request(name, status).inc()

    async def _handle(self, name: str, scope: dict[str, Any], receive: Receive) -> Reply:
        runtime = self.sources.get(name)
        if runtime is None:
            raise UnknownSource(f"unknown source {name!r}")
        if runtime.bucket is not None:
            wait = runtime.bucket.take(time.monotonic())
            if wait > 0:
                raise RateLimited("over this source's rate limit", retry_after_seconds(wait))
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = await read_body(receive, headers.get("content-length"), runtime.config.max_body_bytes)
        qs = scope.get("query_string", b"").decode("latin-1")
        inbound = InboundRequest(
            method="POST",
            path=scope["path"] + ("?" + qs if qs else ""),
            headers=headers,
            body=body,
            query=dict(parse_qsl(qs, keep_blank_values=True)) if qs else {},
        )
        if inbound.content_type not in runtime.adapter.content_types:
            kind = runtime.config.kind
            raise UnsupportedContentType(f"{inbound.content_type or 'no content type'} is not sent by {kind}")
        received_at = datetime.now(UTC)
        accepted = accept(inbound, runtime.config, runtime.adapter, runtime.secrets, runtime.tokens, time.time(), received_at)
        if accepted.reply is not None:
            return accepted.reply
        if accepted.verdict is not None:
            return await self._verdict(accepted.verdict, name)
        encoded = accepted.encoded()
        started = time.perf_counter()
        try:
            if accepted.dead_letter is not None:
                ids = [await self._dead_letter(accepted.dead_letter)]
            else:
                ids = await self._store(encoded, name)
        except Exception as exc:  # noqa: BLE001 - broker did not ack: the sender must retry
            raise BrokerDown(type(exc).__name__) from exc
        self.metrics.publish_seconds.observe(time.perf_counter() - started)
        return runtime.adapter.acknowledge(ids)

    async def _store(self, items: list[Encoded], source: str) -> list[str]:
        timeout = self.settings.publish_timeout_s

        def publish(i: Encoded):  # type: ignore[no-untyped-def]
            return self.publish(names.event_subject(source, i.id), i.payload, i.id, timeout)

        if len(items) == 1:  # the common case: no gather overhead on the hot path
            stored = [await publish(items[0])]
        else:
            stored = list(await asyncio.gather(*(publish(i) for i in items)))
        stored_counter, duplicate_counter = self.counters.items(source)
        for item, result in zip(items, stored, strict=True):
            (duplicate_counter if result.duplicate else stored_counter).inc()
            # The item's wide event is logged once, by route, when it is decided; here only at debug.
            self.item_log.debug("item.received", id=item.id, source=source, duplicate=result.duplicate)
        return [i.id for i in items]

    async def _verdict(self, verdict: Verdict, source: str) -> Reply:
        """A "did this help?" click (services/ingest/verdicts.py): 200 once recorded (or already recorded)."""
        try:
            recorded = await self.feedback.record(verdict.item_id, verdict.verdict, "slack", verdict.by, source)
        except RequestRejected:
            raise
        except Exception as exc:  # noqa: BLE001 - broker did not answer: Slack shows the click failed
            raise BrokerDown(type(exc).__name__) from exc
        body = {"recorded": recorded.first, "item": recorded.item.id, "verdict": recorded.feedback.verdict}
        return Reply(200, json.dumps(body).encode())

    async def _dead_letter(self, dl: DeadLetter) -> str:
        await publish_item(
            self.js, names.dlq_subject("ingest", dl.id), encode(dl),
            msg_id=f"dlq:ingest:{dl.id}", timeout=self.settings.publish_timeout_s,
        )
        self.metrics.dead_letters.labels(dl.source or "").inc()
        log.error("item.dead_lettered", stage="ingest", id=dl.id, source=dl.source, reason=dl.reason)
        return dl.id


async def read_body(receive: Receive, content_length: str | None, limit: int) -> bytes:
    """The request body, refused (413) from Content-Length when present, else while it streams in."""
    if content_length and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge(f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestRejected("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, media_type: bytes, headers: Mapping[str, str]) -> None:
    if media_type.startswith(b"text/") and b"charset" not in media_type:
        media_type += b"; charset=utf-8"
    raw = [(b"content-type", media_type), (b"content-length", b"%d" % len(body))]
    if headers:
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
