"""Outbound webhook requests, signed the Standard Webhooks way.

Headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``: ``v1,<base64 HMAC-SHA256
of "{id}.{timestamp}.{body}">`` keyed by the secret's bytes (``whsec_<base64>``), several
space-separated signatures when two secrets are live (a rotation's overlap). Receivers verify
with any Standard Webhooks library.

The client is defensive because the URL is someone else's: it never follows a redirect (a 3xx
is a failed attempt), gives up after ``CONNECT_TIMEOUT_S`` to connect and ``TOTAL_TIMEOUT_S``
for the whole exchange, reads at most ``MAX_RESPONSE_BYTES`` of the answer and keeps a
``SNIPPET_BYTES`` snippet of it for the delivery log.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

__all__ = [
    "CONNECT_TIMEOUT_S",
    "MAX_RESPONSE_BYTES",
    "SNIPPET_BYTES",
    "TOTAL_TIMEOUT_S",
    "USER_AGENT",
    "WebhookClient",
    "WebhookResult",
    "new_secret",
    "sign",
]

CONNECT_TIMEOUT_S = 3.0
TOTAL_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
SNIPPET_BYTES = 1024
USER_AGENT = "Revenge-Webhooks/1.0"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,<sig>`` per secret, space-separated."""
    content = f"{message_id}.{timestamp}.".encode() + body
    signatures = (
        base64.b64encode(hmac.new(_key(secret), content, hashlib.sha256).digest()).decode()
        for secret in secrets_
    )
    return " ".join(f"v1,{signature}" for signature in signatures)


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """One attempt: ``ok`` for a 2xx; otherwise ``status_code`` and/or ``error`` say why not."""

    ok: bool
    status_code: int | None
    duration_ms: int
    snippet: str | None
    error: str | None


class WebhookClient:
    """One per process (opened and closed with it): a pooled httpx client for POSTs."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(TOTAL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            headers={"user-agent": USER_AGENT},
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            transport=transport,
        )

    async def post(
        self, url: str, body: bytes, *, message_id: str, secrets_: Sequence[str]
    ) -> WebhookResult:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secrets_, message_id, timestamp, body),
        }
        started = time.perf_counter()
        status: int | None = None
        snippet: str | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(TOTAL_TIMEOUT_S):
                request = self._http.build_request("POST", url, content=body, headers=headers)
                response = await self._http.send(request, stream=True)
                try:
                    status = response.status_code
                    read = await _read_capped(response)
                finally:
                    await response.aclose()
            text = read[:SNIPPET_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")
            snippet = text[:SNIPPET_BYTES] or None
            if response.is_redirect:
                location = response.headers.get("location", "")[:200]
                error = f"redirect refused (to {location or 'nowhere'})"
        except TimeoutError:
            error = f"no answer within {TOTAL_TIMEOUT_S:g} s"
        except httpx.HTTPError as problem:
            error = f"{type(problem).__name__}: {problem}"[:500] or type(problem).__name__
        duration_ms = int((time.perf_counter() - started) * 1000)
        ok = error is None and status is not None and 200 <= status < 300
        return WebhookResult(ok, status, duration_ms, snippet, error)

    async def close(self) -> None:
        await self._http.aclose()


async def _read_capped(response: httpx.Response) -> bytes:
    """At most ``MAX_RESPONSE_BYTES`` of the body; the rest is never read."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]
