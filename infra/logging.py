"""Structured logs (structlog): JSON lines for machines or readable text, with a request id.

The request id lives in a context variable bound by the gateway for each request, so every
line logged while serving it carries the id.
"""

from __future__ import annotations

import logging
import sys

import structlog

__all__ = ["configure_logging"]


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    numeric = logging.getLevelName(level.upper())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.INFO), stream=sys.stderr, format="%(message)s")
    # procrastinate logs every job start and end at info, pycasbin its whole model at start-up,
    # httpx every request's full URL (signed segment URLs proxied to workers, provider keys);
    # what matters is logged by our own code.
    for noisy in ("pgserver", "uvicorn.access", "asyncio", "procrastinate", "casbin", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
