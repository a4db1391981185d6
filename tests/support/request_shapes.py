"""The request shapes memory is held flat over (``tests/gateway/test_memory_flat.py``,
``bench/memory.py``): a catalog list, a list crossing into the playback subgraph's entity
fields, a mutation, and a subscription opened and closed on a fresh connection.

Each shape is one request (or one connection) that checks its own answer, so a shape that
silently failed could not pass for a flat one. The HTTP shapes take an ``httpx.AsyncClient``
(in-process through ``httpx.ASGITransport``, or over a socket); the subscription takes a
``connect`` that opens a graphql-transport-ws connection with ``send``/``recv``/``close`` (the
``websockets`` client's names; ``AsgiWebSocket`` is the in-process one).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
import httpx
from starlette.types import ASGIApp, Message

from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_movie_library

__all__ = [
    "SHAPES",
    "AsgiWebSocket",
    "ShapeRows",
    "WebSocketLike",
    "insert_shape_rows",
    "run_shape",
]

SHAPES = ("list", "entity_crossing", "mutation", "subscription_churn")

LIST_QUERY = """
query List($libraryId: ID!) {
  items(libraryId: $libraryId, first: 10) {
    totalCount
    edges { cursor node { id title year files { id container streams { type codec } }
      images { type width } genres { name } people { role person { name } } } }
  }
}
"""
CROSSING_QUERY = """
query Crossing($libraryId: ID!) {
  items(libraryId: $libraryId, first: 10) {
    nodes { id title userData { isPlayed isFavorite playCount positionMs } }
  }
}
"""
MUTATION = """
mutation Favorite($itemId: ID!, $favorite: Boolean!) {
  setFavorite(itemId: $itemId, favorite: $favorite) { id userData { isFavorite } }
}
"""
SUBSCRIPTION = "subscription ($id: ID!) { libraryScan(libraryId: $id) { id status } }"
MOVIES = 20
PAGE = 10


class ShapeRows(Protocol):
    library_id: str
    item_id: str
    api_key: str


class _Rows:
    def __init__(self, library_id: str, item_id: str, api_key: str) -> None:
        self.library_id, self.item_id, self.api_key = library_id, item_id, api_key


async def insert_shape_rows(pool: asyncpg.Pool) -> ShapeRows:
    """A library of ``MOVIES`` movies with a finished scan, and an administrator's API key."""
    library_id = await insert_movie_library(pool, MOVIES)
    await pool.execute(
        "INSERT INTO library_scans (library_id, status) VALUES ($1, 'completed')", library_id
    )
    item_id = await pool.fetchval(
        "SELECT id FROM media_items WHERE library_id = $1 ORDER BY title LIMIT 1", library_id
    )
    return _Rows(str(library_id), str(item_id), await admin_api_key(pool))


class WebSocketLike(Protocol):
    async def send(self, message: str) -> None: ...
    async def recv(self) -> str: ...
    async def close(self) -> None: ...


async def run_shape(
    shape: str,
    number: int,
    rows: ShapeRows,
    client: httpx.AsyncClient,
    connect: Callable[[], Awaitable[WebSocketLike]],
) -> None:
    """One request of ``shape`` (the ``number``-th: mutations alternate their value); raises
    ``AssertionError`` when the answer is not the expected one."""
    if shape == "subscription_churn":
        await _subscription(rows, await connect())
        return
    if shape == "list":
        data = await _post(client, rows, LIST_QUERY, {"libraryId": rows.library_id})
        items = data["items"]
        assert items["totalCount"] == MOVIES and len(items["edges"]) == PAGE, data
    elif shape == "entity_crossing":
        data = await _post(client, rows, CROSSING_QUERY, {"libraryId": rows.library_id})
        nodes = data["items"]["nodes"]
        assert len(nodes) == PAGE and all("userData" in node for node in nodes), data
    elif shape == "mutation":
        favorite = number % 2 == 0
        variables = {"itemId": rows.item_id, "favorite": favorite}
        data = await _post(client, rows, MUTATION, variables)
        assert data["setFavorite"]["userData"]["isFavorite"] is favorite, data
    else:
        raise ValueError(f"unknown shape {shape}")


async def _post(
    client: httpx.AsyncClient, rows: ShapeRows, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"accept": "application/graphql-response+json", "x-api-key": rows.api_key},
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _subscription(rows: ShapeRows, ws: WebSocketLike) -> None:
    """Authenticate, subscribe, take the first event, complete, close."""
    try:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": rows.api_key}}))
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        payload = {"query": SUBSCRIPTION, "variables": {"id": rows.library_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "ping":
                break
        assert message["type"] == "next", message
        assert message["payload"]["data"]["libraryScan"]["status"] == "COMPLETED", message
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
    finally:
        await ws.close()


class AsgiWebSocket:
    """A WebSocket connection to an ASGI app in this process: the app runs as a task, and
    messages pass through queues (no socket, no server)."""

    def __init__(self, app: ASGIApp, path: str, subprotocols: tuple[str, ...]) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        self.outgoing: asyncio.Queue[Message] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"test"), (b"sec-websocket-protocol", b"graphql-transport-ws")],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
            "subprotocols": list(subprotocols),
            "state": {},
            "extensions": {},
        }
        self.task = asyncio.create_task(app(scope, self.incoming.get, self.outgoing.put))

    @classmethod
    async def connect(cls, app: ASGIApp, path: str = "/graphql") -> AsgiWebSocket:
        ws = cls(app, path, ("graphql-transport-ws",))
        await ws.incoming.put({"type": "websocket.connect"})
        accepted = await ws.outgoing.get()
        assert accepted["type"] == "websocket.accept", accepted
        return ws

    async def send(self, message: str) -> None:
        await self.incoming.put({"type": "websocket.receive", "text": message})

    async def recv(self) -> str:
        message = await self.outgoing.get()
        assert message["type"] == "websocket.send", message
        text: str = message["text"]
        return text

    async def close(self) -> None:
        await self.incoming.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 10)
