"""structlog, configured once per process: JSON lines when the output is not a terminal,
console rendering when it is. Every event passes the redaction processor last, so no
phone number (masked to its last 4 digits) and no API secret reaches any output."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

from laaffic_batch.redact import mask_numbers_in, remove_secret

# Values we generate ourselves and that may contain long digit runs legitimately.
SAFE_KEYS = frozenset({"timestamp", "level", "campaign", "task_name", "key_id",
                       "attempt", "attempts", "count", "delay", "delay_ms", "submitted",
                       "failed", "chunks", "index", "logger"})

# Our own flag, not structlog.is_configured(): a structlog.configure() made elsewhere first
# must not keep the redaction processor out.
_configured = False


def _redact_value(value: Any, secret: str | None) -> Any:
    if isinstance(value, str):
        return mask_numbers_in(remove_secret(value, secret))
    if isinstance(value, dict):
        return {k: _redact_value(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, secret) for v in value]
    return value


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask phone numbers and drop the API secret in every value."""
    secret = os.environ.get("LAAFFIC_API_SECRET") or None
    for key, value in event_dict.items():
        if key in SAFE_KEYS:  # our own identifiers: long digit runs there are not numbers
            if isinstance(value, str):
                event_dict[key] = remove_secret(value, secret)
        else:
            event_dict[key] = _redact_value(value, secret)
    return event_dict


def configure_logging(stream: TextIO | None = None) -> None:
    """Idempotent; the first call decides the output stream (stderr by default, so that
    stdout stays clean for --json)."""
    global _configured
    if _configured:
        return
    out = stream or sys.stderr
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=True) if out.isatty()
                     else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    _configured = True


def get_logger() -> Any:
    configure_logging()
    return structlog.get_logger("laaffic-batch")
