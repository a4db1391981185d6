"""Structured logs (structlog): JSON lines for machines or readable text, with a request id.

The request id lives in a context variable bound by the gateway for each request, so every
line logged while serving it carries the id.

Tracebacks are plain text without local variables (a rich traceback with locals printed the
whole settings, database password included, and the caller's principal: a thousand lines per
error), and every line, ours and the libraries' (stdlib ``logging``), goes through
``redact_secrets`` before it is written.
"""

from __future__ import annotations

import logging
import sys

import structlog

from infra.logging_redaction import redact_secrets, redact_url, redact_urls_in

__all__ = ["configure_logging"]


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (tests swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root logger's handler: library lines rendered and redacted as ours are."""

    def __init__(self) -> None:
        super().__init__(_Stderr())


class _HostOnlyUrls(logging.Filter):
    """httpx logs each request's full URL (at info): a webhook's path is its receiver's secret,
    a worker's segment URL carries a signature. Cut them to scheme and host."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg)) if "://" in str(arg) else arg for arg in record.args
            )
        elif isinstance(record.msg, str) and "://" in record.msg:
            record.msg = redact_urls_in(record.msg)
        return True


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    numeric = logging.getLevelName(level.upper())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # The traceback becomes text first, so the redaction sees it.
    finishing: list[structlog.types.Processor] = [
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, *finishing, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.setLevel(max(numeric, logging.INFO))
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *finishing,
                renderer,
            ],
        )
    )
    root.addHandler(handler)
    # procrastinate logs every job start and end at info, pycasbin its whole model at start-up,
    # httpx every request's full URL (signed segment URLs proxied to workers, provider keys);
    # what matters is logged by our own code.
    for noisy in ("pgserver", "uvicorn.access", "asyncio", "procrastinate", "casbin", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _HostOnlyUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_HostOnlyUrls())
