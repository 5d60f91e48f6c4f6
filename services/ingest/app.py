"""The HTTP receiver: POST /webhooks/{source}, /healthz, /readyz, /metrics (contract 2).

Checks run in the contract's order, the first failure answers: unknown source 404, rate limit 429,
size 413, content type 415, authentication 401/403, body 400. The rate limit sits right after the
source lookup so that a flood costs neither a body read nor an HMAC (docs/reliability.md, Hostile input).
/metrics needs `Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN` when that is set, else a loopback client. Items are published to SB_EVENTS and
the sender gets 202 only after JetStream acknowledged every one of them; 503 + Retry-After otherwise.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import AsyncIterator, Mapping

from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from schemas.item import DeadLetter, Item
from services.common import names
from services.common.broker import publish_item
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.streams import streams_present
from services.config.models import Config, SourceConfig
from services.ingest.adapters import adapter_for
from services.ingest.adapters.base import Adapter, InboundRequest
from services.ingest.errors import (
    PayloadTooLarge,
    RateLimited,
    RequestRejected,
    UnknownSource,
    UnsupportedContentType,
)
from services.ingest.metrics import IngestMetrics
from services.ingest.pipeline import accept, encode
from services.ingest.ratelimit import TokenBucket, retry_after_seconds

log = get_logger("switchboard.ingest")

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass
class SourceRuntime:
    config: SourceConfig
    adapter: Adapter
    secrets: list[str]
    tokens: list[str]
    bucket: TokenBucket | None


def source_runtimes(config: Config, environ: Mapping[str, str]) -> dict[str, SourceRuntime]:
    """Resolve each source's adapter and secrets (env var values) once, at start-up."""
    runtimes: dict[str, SourceRuntime] = {}
    for source in config.sources:
        adapter = adapter_for(source.kind)
        if adapter is None:
            log.warning("source.kind_unavailable", source=source.name, kind=source.kind)
            continue
        secrets = [environ[n] for n in source.secrets if environ.get(n)]
        tokens = [environ[n] for n in source.tokens if environ.get(n)]
        missing = [n for n in (*source.secrets, *source.tokens) if not environ.get(n)]
        if missing:
            log.warning("source.env_missing", source=source.name, env_vars=missing)
        bucket = None
        if source.rate_limit:
            rl = source.rate_limit
            bucket = TokenBucket(rl.per_second, float(rl.burst or max(1, int(rl.per_second + 0.999))))
        runtimes[source.name] = SourceRuntime(source, adapter, secrets, tokens, bucket)
    return runtimes


class Ingest:
    def __init__(self, config: Config, settings: Settings, nc: Client, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.nc = nc
        self.js = nc.jetstream()
        self.sources = source_runtimes(config, environ)
        self.metrics = IngestMetrics()
        token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        self.admin_authorization = f"Bearer {token}".encode() if token else None

    async def read_body(self, request: Request, limit: int) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge(f"body over {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def webhook(self, request: Request) -> Response:
        name = request.path_params["source"]
        status = 500
        try:
            response = await self._webhook(name, request)
            status = response.status_code
            return response
        except RequestRejected as exc:
            status = exc.status
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
            log.info("webhook.rejected", source=name, status=status, reason=exc.message)
            return JSONResponse({"error": exc.message}, status_code=status, headers=headers)
        finally:
            self.metrics.requests.labels(name if name in self.sources else "_unknown", str(status)).inc()

    async def _webhook(self, name: str, request: Request) -> Response:
        runtime = self.sources.get(name)
        if runtime is None:
            raise UnknownSource(f"unknown source {name!r}")
        if runtime.bucket is not None:
            wait = runtime.bucket.take(time.monotonic())
            if wait > 0:
                raise RateLimited("over this source's rate limit", retry_after_seconds(wait))
        body = await self.read_body(request, runtime.config.max_body_bytes)
        inbound = InboundRequest(
            method=request.method,
            path=request.scope["path"] + (("?" + qs.decode("latin-1")) if (qs := request.scope["query_string"]) else ""),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            query=dict(request.query_params),
        )
        if inbound.content_type not in runtime.adapter.content_types:
            raise UnsupportedContentType(f"{inbound.content_type or 'no content type'} is not sent by {runtime.config.kind}")
        received_at = datetime.now(UTC)
        accepted = accept(inbound, runtime.config, runtime.adapter, runtime.secrets, runtime.tokens, time.time(), received_at)
        if accepted.reply is not None:
            r = accepted.reply
            return Response(r.body, status_code=r.status, media_type=r.media_type, headers=dict(r.headers))
        started = time.perf_counter()
        try:
            if accepted.dead_letter is not None:
                ids = [await self._dead_letter(accepted.dead_letter)]
            else:
                ids = await self._store(accepted.items, name)
        except Exception as exc:  # noqa: BLE001 - broker did not ack: the sender must retry
            log.warning("webhook.unavailable", source=name, error=type(exc).__name__)
            return JSONResponse(
                {"error": "broker unavailable, retry later"}, status_code=503, headers={"Retry-After": "5"}
            )
        self.metrics.publish_seconds.observe(time.perf_counter() - started)
        r = runtime.adapter.acknowledge(ids)
        return Response(r.body, status_code=r.status, media_type=r.media_type, headers=dict(r.headers))

    async def _store(self, items: list[Item], source: str) -> list[str]:
        timeout = self.settings.publish_timeout_s

        def publish(i: Item):  # type: ignore[no-untyped-def]
            return publish_item(self.js, names.event_subject(i.source, i.id), encode(i), i.id, timeout)

        if len(items) == 1:  # the common case: no gather overhead on the hot path
            stored = [await publish(items[0])]
        else:
            stored = list(await asyncio.gather(*(publish(i) for i in items)))
        for item, result in zip(items, stored, strict=True):
            (self.metrics.duplicates if result.duplicate else self.metrics.items).labels(source).inc()
            # The item's wide event is logged once, by route, when it is decided; here only at debug.
            log.debug("item.received", id=item.id, source=source, event_type=item.event_type, duplicate=result.duplicate)
        return [i.id for i in items]

    async def _dead_letter(self, dl: DeadLetter) -> str:
        await publish_item(
            self.js, names.dlq_subject("ingest", dl.id), encode(dl),
            msg_id=f"dlq:ingest:{dl.id}", timeout=self.settings.publish_timeout_s,
        )
        self.metrics.dead_letters.labels(dl.source or "").inc()
        log.error("item.dead_lettered", stage="ingest", id=dl.id, source=dl.source, reason=dl.reason)
        return dl.id

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        ok = self.nc.is_connected and await streams_present(self.js)
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    def admin_allowed(self, request: Request) -> bool:
        """Ops endpoints: `Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN` when a token is set; without one,
        only clients on the loopback interface (the default bind address is 127.0.0.1)."""
        if self.admin_authorization is not None:
            sent = request.headers.get("authorization", "").encode("latin-1", "replace")
            return hmac.compare_digest(sent, self.admin_authorization)
        return request.client is not None and request.client.host in _LOOPBACK

    async def metrics_endpoint(self, request: Request) -> Response:
        if not self.admin_allowed(request):
            return JSONResponse(
                {"error": "metrics need Authorization: Bearer <SWITCHBOARD_ADMIN_TOKEN>"},
                status_code=401, headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def create_app(config: Config, settings: Settings, nc: Client, environ: Mapping[str, str] | None = None) -> Starlette:
    """The ASGI app. The caller owns the NATS connection (so `up` can share it with the workers)."""
    ingest = Ingest(config, settings, nc, os.environ if environ is None else environ)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("ingest.ready", sources=sorted(ingest.sources))
        yield

    app = Starlette(
        routes=[
            Route("/webhooks/{source}", ingest.webhook, methods=["POST"]),
            Route("/healthz", ingest.healthz, methods=["GET"]),
            Route("/readyz", ingest.readyz, methods=["GET"]),
            Route("/metrics", ingest.metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.ingest = ingest
    return app
