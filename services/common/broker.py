"""Connecting to NATS: the URL comes from --nats / NATS_URL, else the embedded server `up` recorded."""

from __future__ import annotations

import asyncio

import ssl
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import nats
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import APIError

from services.common.embedded import recorded_url
from services.common.errors import describe
from services.common.logging import get_logger
from services.common.settings import Settings

log = get_logger("switchboard.nats")

# JetStream API error: "maximum messages per subject exceeded" (a second copy of the same item)
ERR_MAX_MSGS_PER_SUBJECT = 10077


class NoBrokerFound(RuntimeError):
    pass


def resolve_url(settings: Settings) -> str:
    if settings.nats_url:
        return settings.nats_url
    url = recorded_url(settings.data)
    if url is None:
        raise NoBrokerFound(
            f"no running Switchboard found in {settings.data}/: start `switchboard up`, "
            "or pass --nats URL / set NATS_URL"
        )
    return url


def connect_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"max_reconnect_attempts": -1, "reconnect_time_wait": 0.5, "connect_timeout": 3}
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value() if settings.nats_password else None
    if settings.nats_creds:
        options["user_credentials"] = str(settings.nats_creds)
    if settings.nats_nkey_seed:
        options["nkeys_seed"] = str(settings.nats_nkey_seed)
    if settings.nats_creds or settings.nats_nkey_seed:
        try:
            import nkeys  # noqa: F401 - nats-py signs the server's challenge with it
        except ImportError:
            raise RuntimeError("NATS creds/nkey authentication needs the `nkeys` package (pip install nkeys)") from None
    if settings.nats_tls_ca or settings.nats_tls_cert:
        tls = ssl.create_default_context(cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca else None)
        if settings.nats_tls_cert:
            tls.load_cert_chain(str(settings.nats_tls_cert), str(settings.nats_tls_key) if settings.nats_tls_key else None)
        options["tls"] = tls
    if settings.nats_inbox_prefix:
        options["inbox_prefix"] = settings.nats_inbox_prefix
    return options


def server_list(url: str) -> str | list[str]:
    """`nats://a:4222,nats://b:4222` (a cluster's seeds, as NATS_URL conventionally lists them) -> a list."""
    urls = [u.strip() for u in url.split(",") if u.strip()]
    return urls if len(urls) > 1 else url


def _say_once(url: str) -> Callable[[Exception], Awaitable[None]]:
    """nats-py's default error callback prints a traceback on every failed (re)connect attempt, twice a second
    while the server is away. Say each distinct error once, in one log line, instead."""
    last = [""]

    async def error_cb(exc: Exception) -> None:
        text = describe(exc)
        if text != last[0]:
            last[0] = text
            away = isinstance(exc, (OSError, TimeoutError, nats.errors.NoServersError))
            log.warning("nats.error", url=_without_credentials(url), error=text,
                        **({"hint": "is nats-server running there? (the service keeps retrying)"} if away else {}))
    return error_cb


def _without_credentials(url: str) -> str:
    def one(u: str) -> str:
        scheme, sep, rest = u.strip().rpartition("://")
        return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}"
    return ",".join(one(u) for u in url.split(","))


async def connect(settings: Settings, url: str | None = None, **extra: Any) -> Client:
    url = url or resolve_url(settings)
    return await nats.connect(server_list(url), **{"error_cb": _say_once(url), **connect_options(settings), **extra})


async def _quiet(_exc: Exception) -> None:
    return None


async def connect_briefly(settings: Settings, timeout: float = 5.0) -> Client:
    """For CLI commands: one connection attempt, bounded in time (nats-py would otherwise keep retrying the
    first connect for ever). Raises OSError when the server cannot be reached."""
    url = resolve_url(settings)
    try:
        return await asyncio.wait_for(connect(settings, url, max_reconnect_attempts=0, error_cb=_quiet), timeout)
    except (asyncio.TimeoutError, nats.errors.NoServersError) as exc:
        raise OSError(f"no NATS server answered at {url} within {timeout:.0f}s") from exc


@dataclass(frozen=True)
class Stored:
    seq: int | None
    duplicate: bool


async def publish_item(js: JetStreamContext, subject: str, payload: bytes, msg_id: str, timeout: float) -> Stored:
    """Publish and wait for JetStream's ack. A second copy of the same item is reported as a duplicate, not an error."""
    try:
        ack = await js.publish(subject, payload, timeout=timeout, headers={"Nats-Msg-Id": msg_id})
    except APIError as exc:
        if exc.err_code == ERR_MAX_MSGS_PER_SUBJECT:
            return Stored(None, True)
        raise
    return Stored(ack.seq, bool(ack.duplicate))
