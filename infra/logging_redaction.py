"""Secrets out of log lines: a structlog processor that rewrites every value of an event.

What a line may carry by accident: a database URL with its password (the settings, an asyncpg
error), an ``Authorization`` header or a bearer token, an access token (a JWT) or API key, the
signature of a signed URL (``sig=``, ``exp=``, ``uid=``), a webhook URL (Home Assistant's webhook
id *is* the secret: its path) and the settings' own secrets. Keys that name a secret have their
value replaced whole; every string is scrubbed by pattern, tracebacks included (the processor
runs after ``format_exc_info``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["REDACTED", "redact_secrets", "redact_text", "redact_url", "redact_urls_in"]

REDACTED = "[redacted]"

# Keys whose value is a secret in whole (compared lower case, "-" read as "_").
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "password",
        "passwd",
        "secret",
        "secrets",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "x_api_key",
        "metrics_token",
        "cookie",
        "set_cookie",
    }
)
# Keys whose value is a URL: only its scheme and host are kept (other URLs keep their path, and
# code that logs a URL whose path is a secret cuts it with ``redact_url``).
_URL_KEYS = frozenset({"webhook_url", "database_url", "cache_url", "opa_url"})

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # user:password@ in any URL (postgresql://revenge:hunter2@db/…)
    (re.compile(r"([a-zA-Z][\w+.-]*://[^/\s:@'\"]*):[^@\s/'\"]*@"), r"\1:***@"),
    # Authorization: Bearer …, 'authorization': 'Basic …'
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=,]\s*\(?['\"]?)[^'\"\s,)]+(\s+[^'\"\s,)]+)?"),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]{8,}"), r"\1 " + REDACTED),
    # A JWT anywhere (three base64url parts, the first an encoded JSON header).
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]+"), REDACTED),
    # API keys (rvg_…) and webhook signing secrets (whsec_…).
    (re.compile(r"\b(rvg|whsec)_[\w+/=-]{16,}"), r"\1_" + REDACTED),
    # Signed URLs' query parameters and other credentials passed in a query string.
    (
        re.compile(
            r"(?i)([?&;](?:sig|exp|uid|token|access_token|api_key|apikey|key|secret)=)[^&\s'\"#]*"
        ),
        r"\1" + REDACTED,
    ),
    # Secrets in a repr (Settings(metrics_token='…'), password='…').
    (
        re.compile(r"(?i)\b(\w*(?:token|secret|password)\w*=)(?:'[^']*'|\"[^\"]*\")"),
        r"\1'" + REDACTED + "'",
    ),
)


# What every pattern above needs somewhere in the text: one search spares the others for
# most strings (a route, a status, an id).
_MAYBE = re.compile(r"[@=]|eyJ|rvg_|whsec_|(?i:bearer|basic|authorization)")


def redact_text(text: str) -> str:
    """``text`` with every secret the patterns know replaced."""
    if _MAYBE.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_url(url: str) -> str:
    """Scheme and host (and port) only: a webhook URL's path and query are its secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return redact_text(url)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    suffix = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{netloc}{suffix}"


_URL = re.compile(r"[a-zA-Z][\w+.-]*://[^\s'\"<>]+")


def redact_urls_in(text: str) -> str:
    """``text`` (an error that may quote URLs) with every URL cut to its scheme and host."""
    return redact_text(_URL.sub(lambda match: redact_url(match.group(0)), text))


def _normal(key: Any) -> str:
    return str(key).lower().replace("-", "_")


def _scrub(value: Any, key: str = "") -> Any:
    if key in _SECRET_KEYS and value is not None:
        return REDACTED
    if isinstance(value, str):
        return redact_url(value) if key in _URL_KEYS else redact_text(value)
    if isinstance(value, Mapping):
        return {k: _scrub(v, _normal(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    # Anything else (an exception, a dataclass such as the settings) is rendered as text first,
    # so its repr is scrubbed too.
    return redact_text(str(value))


# What structlog's stdlib bridge keeps in the event for itself.
_UNTOUCHED = frozenset({"exc_info", "_record", "_from_structlog"})


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    """The structlog processor: place it after ``format_exc_info``, before the renderer."""
    return {
        key: value if key in _UNTOUCHED else _scrub(value, _normal(key))
        for key, value in event_dict.items()
    }
