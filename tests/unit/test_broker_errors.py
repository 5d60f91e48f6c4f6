"""A service whose NATS server is away says so once per distinct error, in one line, without the password —
not a traceback twice a second (nats-py's default error callback)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from services.common.broker import _say_once

pytestmark = pytest.mark.unit


async def test_each_distinct_connection_error_is_said_once_without_credentials() -> None:
    error_cb = _say_once("nats://ingest:s3cret@nats-a:4222,nats://nats-b:4222")
    with capture_logs() as logs:
        for _ in range(5):
            await error_cb(ConnectionRefusedError(111, "Connection refused"))
        await error_cb(TimeoutError("timed out"))
    assert [e["error"] for e in logs] == ["ConnectionRefusedError: [Errno 111] Connection refused", "TimeoutError: timed out"]
    assert all(e["url"] == "nats://nats-a:4222,nats://nats-b:4222" and "s3cret" not in str(e) for e in logs)
