"""``/metrics`` for Prometheus: off unless ``metrics.enabled``, and then only for a scraper that
sends ``Authorization: Bearer <metrics.token>`` (Prometheus's ``authorization`` block).

The settings refuse ``metrics.enabled`` without a token, so the series (every route's traffic,
statuses, timings) never answer whoever reaches the port.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.media_routes import problem
from infra.metrics import METRICS_CONTENT_TYPE, Metrics
from infra.settings import Settings

__all__ = ["metrics_routes"]


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether the header carries ``token``, compared in constant time (over digests, so not
    even the length shows)."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(_digest(given.strip()), _digest(token))


def metrics_routes(metrics: Metrics, settings: Settings) -> list[Route]:
    token = settings.metrics_token if settings.metrics_enabled else None

    async def endpoint(request: Request) -> Response:
        if token is None:
            return problem(404, "NOT_FOUND", "metrics are not enabled")
        if not bearer_matches(request.headers.get("authorization"), token):
            return problem(
                401,
                "UNAUTHENTICATED",
                "metrics need the configured bearer token",
                **{"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        body = await asyncio.to_thread(metrics.render)
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    return [Route("/metrics", endpoint, methods=["GET"])]
