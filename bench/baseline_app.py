"""The baseline of `make bench`: a bare Starlette route that reads the body and awaits ONE JetStream publish.

Same server settings as `switchboard up`/`ingest` (services/runner.py): uvloop.run + uvicorn.Server,
uvicorn's default http (httptools when installed, as with uvicorn[standard]), 1 worker, log_level warning,
no access log. The stream mirrors SB_EVENTS' storage settings (file, one message per subject, 120 s
Nats-Msg-Id window), so the broker does the same work per message.

    python -m bench.baseline_app --nats nats://127.0.0.1:4222 --port 18080
"""

from __future__ import annotations

import argparse
import asyncio

import nats
import uvicorn
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

STREAM = StreamConfig(
    name="BENCH_BASELINE",
    subjects=["bench.events.>"],
    retention=RetentionPolicy.LIMITS,
    storage=StorageType.FILE,
    max_msgs_per_subject=1,
    discard=DiscardPolicy.NEW,
    discard_new_per_subject=True,
    duplicate_window=120.0,
    allow_direct=True,
)
PUBLISH_TIMEOUT_S = 5.0  # Settings.publish_timeout_s default


def create_app(js) -> Starlette:  # type: ignore[no-untyped-def]
    async def webhook(request: Request) -> Response:
        body = await request.body()
        msg_id = request.headers.get("webhook-id", "")
        subject = f"bench.events.{request.path_params['source']}.{msg_id}"
        await js.publish(subject, body, headers={"Nats-Msg-Id": msg_id}, timeout=PUBLISH_TIMEOUT_S)
        return Response(status_code=202)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/webhooks/{source}", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


async def main(nats_url: str, host: str, port: int) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        await js.stream_info(STREAM.name)
    except NotFoundError:
        await js.add_stream(STREAM)
    server = uvicorn.Server(
        uvicorn.Config(create_app(js), host=host, port=port, log_level="warning", access_log=False,
                       lifespan="on", timeout_graceful_shutdown=5)
    )
    try:
        await server.serve()
    finally:
        await nc.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main(args.nats, args.host, args.port))
    except ImportError:  # pragma: no cover
        asyncio.run(main(args.nats, args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    cli()
