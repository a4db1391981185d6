"""A subgraph served alone applies the gateway's request rules: persisted-only keys, document
limits, credentials from connection_init, and still answers a router's ``_service``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import connect

from gateway.subgraph_app import subgraph_app
from infra.settings import load_settings
from tests.gateway.test_app import Running, running
from tests.gateway.test_document_limits import fragment_bomb
from tests.gateway.test_persisted_queries import ITEMS, persisted_only_key, sha
from tests.support.auth import admin_api_key

GRAPHQL_RESPONSE = "application/graphql-response+json"


@contextmanager
def running_subgraph(database_url: str, data_dir: Path, name: str) -> Iterator[Running]:
    settings = load_settings(
        {
            "REVENGE_DATABASE_URL": database_url,
            "REVENGE_DATA_DIR": str(data_dir),
            "REVENGE_LOG_LEVEL": "warning",
        }
    )
    with running(subgraph_app(settings, name)) as served:
        yield served


async def post(url: str, body: dict, key: str | None = None) -> httpx.Response:
    headers = {"accept": GRAPHQL_RESPONSE, **({"x-api-key": key} if key else {})}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post("/graphql", json=body, headers=headers)


async def test_the_catalog_subgraph_alone_keeps_persisted_only_keys_to_their_documents(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    with running_subgraph(database_url, tmp_path / "data", "catalog") as catalog:
        key, _ = await persisted_only_key(pool, catalog, ITEMS)

        raw = await post(catalog.url, {"query": ITEMS, "variables": {"first": 1}}, key)
        registered = await post(
            catalog.url, {"documentId": f"sha256:{sha(ITEMS)}", "variables": {"first": 1}}, key
        )
        sdl = await post(catalog.url, {"query": "{ _service { sdl } }"})

    assert raw.status_code == 403
    assert raw.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_ONLY"}
    assert (registered.status_code, registered.json()) == (
        200,
        {"data": {"items": {"totalCount": 0}}},
    )
    assert "type MediaItem" in sdl.json()["data"]["_service"]["sdl"]


async def test_the_subgraph_alone_refuses_the_fragment_bomb(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    with running_subgraph(database_url, tmp_path / "data", "catalog") as catalog:
        async with httpx.AsyncClient(base_url=catalog.url, timeout=30) as client:
            bomb, live = await asyncio.gather(
                post(catalog.url, {"query": fragment_bomb(41)}), client.get("/health/live")
            )

    assert bomb.status_code == 400
    assert bomb.json()["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert live.status_code == 200


async def test_the_user_subgraph_alone_reads_websocket_credentials_from_connection_init(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    key = await admin_api_key(pool, "socket-owner")
    with running_subgraph(database_url, tmp_path / "data", "user") as user:
        url = user.url.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"apiKey": key}}))
            ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
            await socket.send(
                json.dumps(
                    {"id": "1", "type": "subscribe", "payload": {"query": "{ me { name } }"}}
                )
            )
            answer = json.loads(await asyncio.wait_for(socket.recv(), 10))

    assert ack == {"type": "connection_ack"}
    assert answer == {
        "id": "1",
        "type": "next",
        "payload": {"data": {"me": {"name": "socket-owner"}}},
    }
