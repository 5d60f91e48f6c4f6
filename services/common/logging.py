"""structlog set-up: one wide event per item, JSON when not on a TTY. Never log secrets or signatures."""

from __future__ import annotations

import logging
import sys

import structlog

_REDACT = ("secret", "signature", "authorization", "token", "password", "cookie")


def _redact(_logger: object, _method: str, event: dict) -> dict:  # type: ignore[type-arg]
    for key in list(event):
        if any(word in key.lower() for word in _REDACT):
            event[key] = "[redacted]"
    return event


def configure(level: str = "info", json: bool | None = None) -> None:
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
