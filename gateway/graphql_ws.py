"""graphql-transport-ws on ``/graphql`` (https://github.com/enisdenjo/graphql-ws, PROTOCOL.md).

One ``_Connection`` per socket: a receive loop that validates every message, one task
per operation, an initialisation timer and an optional keep-alive ping. Queries and
mutations work as well as subscriptions. ``context_factory(websocket, payload)`` runs
once per operation with the ``connection_init`` payload, so every operation gets fresh
request-scoped loaders (and a fresh entity memo); if it raises ``Unauthenticated`` or
``Forbidden`` the socket closes with ``4403``. Every operation's async iterator is
closed when the client completes it, when it ends, or when the socket goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

import structlog
from graphql import GraphQLError, OperationType
from starlette.websockets import WebSocket, WebSocketState

from gateway.document_limits import json_depth_exceeds
from gateway.graphql_http import ContextFactory, GraphQLService, RequestError
from gateway.persisted_queries import (
    PersistedQueries,
    PersistedQueryError,
    registering_caller,
)
from infra.bus import SubscriberTooSlow
from infra.connection_slots import ConnectionSlots, InProcessConnectionSlots
from infra.errors import Forbidden, RevengeError, Unauthenticated

__all__ = ["MESSAGE_TOO_BIG", "PROTOCOL", "SUBSCRIBER_TOO_SLOW", "GraphQLTransportWS"]

PROTOCOL = "graphql-transport-ws"
# RFC 6455 1013 "Try Again Later": the server shed this connection to protect itself.
SUBSCRIBER_TOO_SLOW = 1013
# RFC 6455 1009 "Message Too Big".
MESSAGE_TOO_BIG = 1009
logger = structlog.get_logger()


class GraphQLTransportWS:
    """The ASGI WebSocket endpoint speaking graphql-transport-ws."""

    def __init__(
        self,
        service: GraphQLService,
        context_factory: ContextFactory,
        *,
        allowed_origins: tuple[str, ...] = (),
        connection_init_timeout: float = 10.0,
        keepalive_seconds: float | None = 15.0,
        max_connections_per_user: int = 0,
        connection_slots: ConnectionSlots | None = None,
        recheck_seconds: float = 60.0,
        persisted: PersistedQueries | None = None,
        max_operations: int = 100,
        max_pending: int = 2000,
        max_pending_per_address: int = 32,
        max_message_bytes: int = 1024 * 1024,
    ) -> None:
        self.service = service
        # Operations running at once on one socket; one more is answered RATE_LIMITED.
        self.max_operations = max_operations
        # Sockets still waiting for connection_init, overall and per client address (0: no
        # limit): one more is closed at once with 4429, before it can sit out the timeout.
        # Counted per process on purpose: the caps guard this process's own sockets and memory
        # for at most connection_init_timeout, so N processes admit at most N times the cap
        # from one address, each still bounded; sharing the count would put a database write
        # in front of every unauthenticated handshake, a cost an attacker could multiply.
        self.max_pending = max_pending
        self.max_pending_per_address = max_pending_per_address
        self.pending = 0
        self.pending_by_address: dict[str, int] = {}
        # A longer message closes the socket with 1009.
        self.max_message_bytes = max_message_bytes
        # Hashed documents (APQ, trusted documents): the same rules as over HTTP.
        self.persisted = persisted if persisted is not None else PersistedQueries()
        self.context_factory = context_factory
        # Open sockets per signed-in user (0: no limit), counted across processes and replicas
        # (the slots live in Redis or PostgreSQL; see infra/connection_slots.py). A user over
        # the limit is refused at connection_init with 4429.
        self.max_connections_per_user = max_connections_per_user
        self.connection_slots = connection_slots or InProcessConnectionSlots()
        self.allowed_origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)
        self.connection_init_timeout = connection_init_timeout
        self.keepalive_seconds = keepalive_seconds
        # How often an open socket's credentials are checked again (0: never).
        self.recheck_seconds = recheck_seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await _Connection(self, WebSocket(scope, receive, send)).run()

    def origin_allowed(self, websocket: WebSocket) -> bool:
        """No ``Origin`` (not a browser), the same origin, or a configured one."""
        origin = websocket.headers.get("origin")
        if origin is None or "*" in self.allowed_origins:
            return True
        if origin.rstrip("/").lower() in self.allowed_origins:
            return True
        host = websocket.headers.get("host", "")
        return urlsplit(origin).netloc.lower() == host.lower() and host != ""

    def wait_for_init(self, address: str) -> bool:
        """Count a socket awaiting connection_init; False (not counted) when over a cap."""
        per_address = self.pending_by_address.get(address, 0)
        if (self.max_pending and self.pending >= self.max_pending) or (
            self.max_pending_per_address and per_address >= self.max_pending_per_address
        ):
            return False
        self.pending += 1
        self.pending_by_address[address] = per_address + 1
        return True

    def init_done(self, address: str) -> None:
        self.pending -= 1
        left = self.pending_by_address.pop(address) - 1
        if left:
            self.pending_by_address[address] = left


class _Connection:
    def __init__(self, endpoint: GraphQLTransportWS, websocket: WebSocket) -> None:
        self.endpoint = endpoint
        self.websocket = websocket
        self.init_received = False
        self.acknowledged = False
        self.connection_params: Any = None
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.closed = False
        self.send_lock = asyncio.Lock()
        self.slot: tuple[str, str] | None = None  # (user, token) of the place this socket holds
        client = websocket.client
        self.address = client.host if client else ""
        self.pending = False  # counted among the sockets awaiting connection_init

    async def run(self) -> None:
        websocket = self.websocket
        if not self.endpoint.origin_allowed(websocket):
            await websocket.close(code=1008)  # before accept: the server answers HTTP 403
            return
        if PROTOCOL not in websocket.scope.get("subprotocols", ()):
            await websocket.accept()
            await self.close(4406, "Subprotocol not acceptable")
            return
        await websocket.accept(subprotocol=PROTOCOL)
        if not self.endpoint.wait_for_init(self.address):
            await self.close(4429, "Too many connections awaiting initialisation")
            return
        self.pending = True
        timers = [asyncio.create_task(self._init_timeout())]
        try:
            while not self.closed:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    await self.close(4400, "Binary messages are not supported")
                    break
                if _too_big(text, self.endpoint.max_message_bytes):
                    await self.close(MESSAGE_TOO_BIG, "Message too big")
                    break
                await self._handle(text, timers)
        finally:
            self._initialised()
            self.closed = True
            tasks = [*timers, *self.operations.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._give_back_slot()

    def _initialised(self) -> None:
        """The socket no longer awaits connection_init (it sent one, or it is gone)."""
        if self.pending:
            self.pending = False
            self.endpoint.init_done(self.address)

    async def _init_timeout(self) -> None:
        await asyncio.sleep(self.endpoint.connection_init_timeout)
        if not self.init_received:
            await self.close(4408, "Connection initialisation timeout")

    async def _count_user(self, timers: list[asyncio.Task[None]]) -> bool:
        """Apply the per-user connection limit; False when the socket was closed for it."""
        endpoint = self.endpoint
        if not endpoint.max_connections_per_user:
            return True
        try:
            context = await endpoint.context_factory(self.websocket, self.connection_params)
        except (Unauthenticated, Forbidden):
            await self.close(4403, "Forbidden")
            return False
        user = getattr(getattr(context, "principal", None), "user_id", None)
        if user is None:
            return True  # anonymous sockets can do little; operations check access themselves
        slots = endpoint.connection_slots
        key = f"ws:{user}"
        token = await slots.take(key, endpoint.max_connections_per_user)
        if token is None:
            await self.close(4429, "Too many connections for this user")
            return False
        self.slot = (key, token)
        if slots.ttl_seconds != float("inf"):
            timers.append(asyncio.create_task(self._renew_slot(slots.ttl_seconds / 3)))
        return True

    async def _renew_slot(self, interval: float) -> None:
        while not self.closed and self.slot is not None:
            await asyncio.sleep(interval)
            try:
                await self.endpoint.connection_slots.renew(*self.slot)
            except Exception:
                logger.warning("renewing a WebSocket's place failed", exc_info=True)

    async def _give_back_slot(self) -> None:
        slot, self.slot = self.slot, None
        if slot is None:
            return
        try:
            await self.endpoint.connection_slots.give_back(*slot)
        except Exception:  # the place lapses by itself within its time to live
            logger.warning("giving back a WebSocket's place failed", exc_info=True)

    async def _recheck(self, interval: float) -> None:
        """Authenticate the socket's credentials again now and then: a revoked API key, a
        disabled account or an expired token ends the socket (4403), and with it every
        subscription that would otherwise go on receiving events."""
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                await self.endpoint.context_factory(self.websocket, self.connection_params)
            except (Unauthenticated, Forbidden):
                await self.close(4403, "Forbidden")
                return
            except Exception:  # a passing database hiccup is no reason to drop the socket
                logger.warning("re-checking a WebSocket's credentials failed", exc_info=True)

    async def _keepalive(self, interval: float) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            await self.send({"type": "ping"})

    async def _handle(self, text: str, timers: list[asyncio.Task[None]]) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: the decoder's nesting guard
            message = None
        if json_depth_exceeds(message):
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.close(4400, "Invalid message received")
            return
        kind = message["type"]
        if kind == "connection_init":
            if self.init_received:
                await self.close(4429, "Too many initialisation requests")
                return
            payload = message.get("payload")
            if payload is not None and not isinstance(payload, dict):
                await self.close(4400, "Invalid connection_init payload")
                return
            self.init_received = True
            self._initialised()
            self.connection_params = payload
            if not await self._count_user(timers):
                return
            self.acknowledged = True
            await self.send({"type": "connection_ack"})
            if self.endpoint.keepalive_seconds:
                timers.append(asyncio.create_task(self._keepalive(self.endpoint.keepalive_seconds)))
            if self.endpoint.recheck_seconds:
                timers.append(asyncio.create_task(self._recheck(self.endpoint.recheck_seconds)))
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            operation_id = message.get("id")
            if not isinstance(operation_id, str):
                await self.close(4400, "complete needs an id")
                return
            task = self.operations.pop(operation_id, None)
            if task is not None:
                task.cancel()
        else:
            await self.close(4400, f"Unexpected message type {kind!r}")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            await self.close(4401, "Unauthorized")
            return
        operation_id = message.get("id")
        payload = message.get("payload")
        if not isinstance(operation_id, str) or not operation_id or not isinstance(payload, dict):
            await self.close(4400, "Invalid subscribe message")
            return
        if not _valid_payload(payload):
            await self.close(4400, "Invalid subscribe message")
            return
        if operation_id in self.operations:
            await self.close(4409, f"Subscriber for {operation_id} already exists")
            return
        limit = self.endpoint.max_operations
        if limit and len(self.operations) >= limit:
            refusal = {
                "message": f"At most {limit} operations may run at once on one connection.",
                "extensions": {"code": "RATE_LIMITED"},
            }
            await self.send({"id": operation_id, "type": "error", "payload": [refusal]})
            return
        self.operations[operation_id] = asyncio.create_task(self._operate(operation_id, payload))

    async def _operate(self, operation_id: str, payload: dict[str, Any]) -> None:
        service = self.endpoint.service
        context: Any = None
        try:
            try:
                context = await self.endpoint.context_factory(
                    self.websocket, self.connection_params
                )
            except (Unauthenticated, Forbidden):
                await self.close(4403, "Forbidden")
                return
            try:
                document = await self.endpoint.persisted.resolve(
                    getattr(context, "principal", None),
                    payload.get("query"),
                    payload.get("extensions"),
                    payload.get("documentId"),
                )
                operation = await service.prepare(
                    document.text,
                    payload.get("operationName"),
                    payload.get("variables"),
                    key=document.sha256,
                )
            except PersistedQueryError as error:
                refusal = [{"message": error.message, "extensions": {"code": error.code}}]
                await self._finish(operation_id, {"type": "error", "payload": refusal})
                return
            except RequestError as error:
                await self._finish(operation_id, {"type": "error", "payload": error.formatted()})
                return
            if document.register is not None:
                client = self.websocket.client
                caller = registering_caller(
                    getattr(context, "principal", None), client.host if client else None
                )
                await self.endpoint.persisted.save(document.register, document.text, caller)
            if operation.kind is not OperationType.SUBSCRIPTION:
                response = await service.execute(operation, context)
                await self.send({"id": operation_id, "type": "next", "payload": response})
            else:
                stream = await service.subscribe(operation, context)
                if isinstance(stream, dict):
                    await self._finish(
                        operation_id, {"type": "error", "payload": stream.get("errors", [])}
                    )
                    return
                try:
                    async for result in stream:
                        await self.send(
                            {
                                "id": operation_id,
                                "type": "next",
                                "payload": service.format_result(result, context),
                            }
                        )
                finally:
                    aclose = getattr(stream, "aclose", None)
                    if aclose is not None:
                        with contextlib.suppress(Exception):
                            await aclose()
            await self._finish(operation_id, {"type": "complete"})
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a failure outside resolvers: mask it, keep the socket
            if _too_slow(error):
                # The subscriber's bounded buffer overflowed: end the connection with a code the
                # client can act on (reconnect, resubscribe, read the current state again)
                # rather than let memory grow or events go missing silently.
                await self.close(SUBSCRIBER_TOO_SLOW, "Subscriber too slow")
                return
            if isinstance(error, RevengeError):
                formatted = {
                    "message": error.message,
                    "extensions": {**error.extensions, "code": error.code},
                }
            else:
                formatted = service.format_error(
                    GraphQLError("failed", original_error=error), context
                )
            await self._finish(operation_id, {"type": "error", "payload": [formatted]})

    async def _finish(self, operation_id: str, message: dict[str, Any]) -> None:
        """Send the operation's last message unless the client completed it already."""
        task = self.operations.get(operation_id)
        if task is not asyncio.current_task():
            return
        del self.operations[operation_id]
        await self.send({"id": operation_id, **message})

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
        async with self.send_lock:
            try:
                await self.websocket.send_text(text)
            except Exception:  # the peer went away; the receive loop notices
                self.closed = True

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        async with self.send_lock:
            if self.websocket.application_state is not WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await self.websocket.close(code=code, reason=reason)


def _too_big(text: str, limit: int) -> bool:
    """Whether ``text`` is over ``limit`` bytes in UTF-8 (encoded only when it could be)."""
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit


def _too_slow(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(8):  # through GraphQLError.original_error and exception chaining
        if seen is None:
            return False
        if isinstance(seen, SubscriberTooSlow):
            return True
        seen = getattr(seen, "original_error", None) or seen.__cause__ or seen.__context__
    return False


def _valid_payload(payload: Any) -> bool:
    """A query string, or instead a hash: ``documentId`` or ``extensions.persistedQuery``."""
    if not isinstance(payload, dict):
        return False
    query, document_id = payload.get("query"), payload.get("documentId")
    extensions = payload.get("extensions")
    if document_id is not None and not isinstance(document_id, str):
        return False
    hashed = document_id is not None or (
        isinstance(extensions, dict) and extensions.get("persistedQuery") is not None
    )
    if not isinstance(query, str) and not (hashed and query is None):
        return False
    if payload.get("operationName") is not None and not isinstance(payload["operationName"], str):
        return False
    return all(
        payload.get(name) is None or isinstance(payload[name], dict)
        for name in ("variables", "extensions")
    )
