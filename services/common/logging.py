"""structlog set-up: one wide event per item, JSON when not on a TTY. Never log secrets or signatures."""

from __future__ import annotations

import json as stdjson
import logging
import re
import sys

import orjson
import structlog

_REDACT = ("secret", "signature", "authorization", "token", "password", "cookie", "creds")
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")  # nats://user:pass@host -> nats://[redacted]@host


def _redact(_logger: object, _method: str, event: dict) -> dict:  # type: ignore[type-arg]
    """Secret-named fields are replaced; credentials in URLs (`scheme://user:pass@`) are cut from any value."""
    for key, value in event.items():
        if any(word in key.lower() for word in _REDACT):
            event[key] = "[redacted]"
        elif type(value) is str and "@" in value and "://" in value:
            event[key] = _USERINFO.sub(r"\1[redacted]@", value)
    return event


def _escape_controls(_logger: object, _method: str, event: dict) -> dict:  # type: ignore[type-arg]
    """Console lines: a newline or escape sequence in a value (a URL path, a header) cannot forge a log
    line or recolour the terminal. The JSON renderer escapes them by itself."""
    for key, value in event.items():
        if type(value) is str and not value.isprintable():
            event[key] = repr(value)[1:-1]
    return event


def _dumps(event: dict, **_: object) -> bytes:  # type: ignore[type-arg]
    """orjson, falling back to the standard library for what orjson refuses (lone surrogates in a value)."""
    try:
        return orjson.dumps(event, default=str)
    except TypeError:
        return stdjson.dumps(event, default=str).encode()


class _LazyStderr:
    """Write to whatever sys.stderr is *now*: cached loggers then survive a test swapping stderr."""

    def write(self, data: bytes) -> None:
        sys.stderr.buffer.write(data) if hasattr(sys.stderr, "buffer") else sys.stderr.write(data.decode())

    def flush(self) -> None:
        sys.stderr.flush()


class _LazyTextStderr:
    def write(self, data: str) -> None:
        sys.stderr.write(data)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "info", json: bool | None = None) -> None:
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            *(() if use_json else (_escape_controls,)),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=(
            structlog.BytesLoggerFactory(file=_LazyStderr())  # type: ignore[arg-type]
            if use_json
            else structlog.WriteLoggerFactory(file=_LazyTextStderr())  # type: ignore[arg-type]
        ),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
