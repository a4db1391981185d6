"""Each request's id and its access log line, outermost in the app (in front of the stream seek
path too, so seeks are logged as the routes' requests are).

One JSON object per HTTP request (with ``log.format: json``): ``method``, ``route`` (the
template of the route that answered, never the path a client sent, and never a query string:
signed URLs carry their signature there), ``status``, ``duration_ms`` and ``request_id``. A
WebSocket logs a line when it is accepted and one when it closes (with its close code and how
long it lasted). ``log.access: false`` turns the lines off; the request id stays.
"""

from __future__ import annotations

import time
import uuid

import structlog
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.metrics import UNMATCHED

__all__ = ["STREAM_ROUTE", "AccessLog", "request_header", "route_label"]

log = structlog.get_logger("revenge.access")

# The route the stream seek path answers for without going through the router.
STREAM_ROUTE = "/stream/{file_id}"


def request_header(scope: Scope, name: bytes) -> str | None:
    """A request header's printable value, at most 128 characters."""
    for key, value in scope.get("headers", []):
        if key == name:
            text: str = value.decode("latin-1")[:128]
            return text if text.isprintable() else None
    return None


def route_label(scope: Scope) -> str:
    """The template of the route that answered (the router leaves it in the scope), never the
    path a client sent: the label has as many values as the app has routes."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path:path}}"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def _label(scope: Scope) -> str:
    label = route_label(scope)
    if label == UNMATCHED and scope["path"].startswith("/stream/"):
        return STREAM_ROUTE  # answered by the seek path, which the router never saw
    return label


class AccessLog:
    """Gives each request an id (honouring ``X-Request-Id``) in ``scope["revenge.request_id"]``,
    binds it to every line logged while serving it and logs the request. (The app's own
    middleware sends it back as ``X-Request-Id``; the seek path answers without it.)"""

    def __init__(self, app: ASGIApp, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_header(scope, b"x-request-id") or uuid.uuid4().hex
        scope["revenge.request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if scope["type"] == "http":
                await self._http(scope, receive, send, request_id)
            else:
                await self._websocket(scope, receive, send, request_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        if not self.enabled:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            log.info(
                "http request",
                method=scope["method"],
                route=_label(scope),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                request_id=request_id,
            )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        if not self.enabled:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        accepted = False
        close_code: int | None = None

        async def receive_noting_close() -> Message:
            nonlocal close_code
            message = await receive()
            if message["type"] == "websocket.disconnect" and close_code is None:
                close_code = message.get("code", 1005)
            return message

        async def send_noting_state(message: Message) -> None:
            nonlocal accepted, close_code
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                log.info("websocket connected", route=_label(scope), request_id=request_id)
            elif message["type"] == "websocket.close" and close_code is None:
                close_code = message.get("code", 1000)
            await send(message)

        try:
            await self.app(scope, receive_noting_close, send_noting_state)
        finally:
            log.info(
                "websocket closed",
                route=_label(scope),
                accepted=accepted,
                close_code=close_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                request_id=request_id,
            )
