"""The HTTP app: POST /webhooks/{source} (services/ingest/receiver.py, the hot path), /healthz, /readyz,
/metrics (contract 2) and the "did this help?" links GET/POST /feedback/{token} (feedback_pages.py).
/metrics needs `Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN` when that is set,
else a loopback client."""

from __future__ import annotations

import hmac
import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Mapping

from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.acked_publish import AckedPublisher
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.streams import streams_present
from services.config.models import Config
from services.ingest.feedback_pages import FeedbackPages
from services.ingest.metrics import IngestMetrics
from services.ingest.receiver import PREFIX, Receive, Receiver, Send
from services.ingest.runtime import source_runtimes

log = get_logger("switchboard.ingest")

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class Ingest:
    def __init__(self, config: Config, settings: Settings, nc: Client, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.nc = nc
        self.js = nc.jetstream()
        self.sources = source_runtimes(config, environ)
        self.metrics = IngestMetrics()
        token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        self.admin_authorization = f"Bearer {token}".encode() if token else None

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
        # plus the process-wide default registry: the other stages `up` runs in this process (deliver) count there
        body = generate_latest(self.metrics.registry) + generate_latest(REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


class App:
    """Webhooks go straight to the receiver; everything else (health, metrics, lifespan) to Starlette."""

    def __init__(self, receiver: Receiver, rest: Starlette, ingest: Ingest) -> None:
        self.receiver = receiver
        self.rest = rest
        self.ingest = ingest

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX) and "/" not in scope["path"][len(PREFIX):]:
            await self.receiver(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


def create_app(config: Config, settings: Settings, nc: Client, environ: Mapping[str, str] | None = None) -> App:
    """The ASGI app. The caller owns the NATS connection (so `up` can share it with the workers)."""
    ingest = Ingest(config, settings, nc, os.environ if environ is None else environ)
    receiver = Receiver(ingest.sources, ingest.js, settings, ingest.metrics, AckedPublisher(nc))
    feedback = FeedbackPages(receiver.feedback, os.environ if environ is None else environ)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("ingest.ready", sources=sorted(ingest.sources))
        yield

    app = Starlette(
        routes=[
            Route("/healthz", ingest.healthz, methods=["GET"]),
            Route("/readyz", ingest.readyz, methods=["GET"]),
            Route("/metrics", ingest.metrics_endpoint, methods=["GET"]),
            Route("/feedback/{token}", feedback.handle, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    return App(receiver, app, ingest)
