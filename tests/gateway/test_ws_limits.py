"""Per-user WebSocket limits on the real app: a user's sockets beyond the limit are refused at
connection_init with 4429, and a closed socket frees its place."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.test_app import running_app
from tests.support.auth import admin_api_key


async def _init(
    url: str, key: str | None = None, *, payload: object = None
) -> tuple[ClientConnection, dict | None, int | None]:
    """Open a socket and send connection_init with an API key, or with ``payload`` as it is."""
    payload = {"apiKey": key} if key is not None else payload
    socket = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5)
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    try:
        return socket, json.loads(await asyncio.wait_for(socket.recv(), 5)), None
    except ConnectionClosed as closed:
        return socket, None, closed.rcvd.code if closed.rcvd else None


async def test_a_users_sockets_beyond_the_limit_are_refused(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    with running_app(
        database_url, tmp_path / "data", REVENGE_GRAPHQL_WS_MAX_CONNECTIONS_PER_USER="2"
    ) as app:
        key = await admin_api_key(pool, "owner")
        other = await admin_api_key(pool, "neighbour")
        url = app.url.replace("http://", "ws://") + "/graphql"

        first, first_ack, _ = await _init(url, key)
        second, second_ack, _ = await _init(url, key)
        third, third_ack, third_code = await _init(url, key)
        neighbour, neighbour_ack, _ = await _init(url, other)
        await first.close()
        await third.close()
        for _ in range(40):  # the server counts the closed socket out when its loop ends
            fourth, fourth_ack, _ = await _init(url, key)
            if fourth_ack is not None:
                break
            await fourth.close()
            await asyncio.sleep(0.05)

        for socket in (second, neighbour, fourth):
            await socket.close()

    assert first_ack == second_ack == {"type": "connection_ack"}
    assert (third_ack, third_code) == (None, 4429)
    assert neighbour_ack == {"type": "connection_ack"}  # another user has places of their own
    assert fourth_ack == {"type": "connection_ack"}  # a closed socket freed its place


async def test_the_limit_counts_a_users_sockets_on_every_replica(
    pool: asyncpg.Pool, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    shared = {"REVENGE_GRAPHQL_WS_MAX_CONNECTIONS_PER_USER": "2", "REVENGE_CACHE_URL": redis_url}
    with (
        running_app(database_url, tmp_path / "a", **shared) as replica_a,
        running_app(database_url, tmp_path / "b", **shared) as replica_b,
    ):
        key = await admin_api_key(pool, "roamer")
        url_a = replica_a.url.replace("http://", "ws://") + "/graphql"
        url_b = replica_b.url.replace("http://", "ws://") + "/graphql"

        on_a, on_a_ack, _ = await _init(url_a, key)
        on_b, on_b_ack, _ = await _init(url_b, key)
        third, third_ack, third_code = await _init(url_b, key)
        await on_a.close()
        for _ in range(40):  # replica a gives the place back when its socket loop ends
            fourth, fourth_ack, _ = await _init(url_b, key)
            if fourth_ack is not None:
                break
            await fourth.close()
            await asyncio.sleep(0.05)

        for socket in (on_b, third, fourth):
            await socket.close()

    assert on_a_ack == on_b_ack == {"type": "connection_ack"}
    assert (third_ack, third_code) == (None, 4429)  # two places taken, on two replicas
    assert fourth_ack == {"type": "connection_ack"}


async def test_a_revoked_key_ends_its_open_sockets(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    with running_app(
        database_url, tmp_path / "data", REVENGE_GRAPHQL_WS_RECHECK_SECONDS="0.2"
    ) as app:
        key = await admin_api_key(pool, "leaver")
        url = app.url.replace("http://", "ws://") + "/graphql"
        socket, ack, _ = await _init(url, key)
        await asyncio.sleep(0.5)  # a few checks pass while the key is good
        still_open = socket.close_code is None

        # Revoked as a user does it (through the API, which tells every process's principal
        # cache); the socket's next check finds the key gone.
        key_id = await pool.fetchval("SELECT id FROM api_keys")
        async with httpx.AsyncClient() as client:
            revoked = await client.post(
                app.url + "/graphql",
                headers={"x-api-key": key},
                json={
                    "query": "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }",
                    "variables": {"id": str(key_id)},
                },
            )
        assert revoked.json() == {"data": {"revokeApiKey": {"__typename": "RevokePayload"}}}
        try:
            while True:
                await asyncio.wait_for(socket.recv(), 5)  # pings, until the server closes
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None

    assert ack == {"type": "connection_ack"}
    assert still_open
    assert code == 4403


async def test_a_malformed_connection_init_is_refused_with_a_close_code(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    async def first_answer(payload: object) -> tuple[dict | None, int | None]:
        socket, answer, code = await _init(url, payload=payload)
        await socket.close()
        return answer, code

    with running_app(database_url, tmp_path / "data") as app:
        url = app.url.replace("http://", "ws://") + "/graphql"
        not_an_object = await first_answer("apiKey=abc")
        wrong_scheme = await first_answer({"authorization": "Basic YWRtaW46YWRtaW4="})
        unknown_key = await first_answer({"apiKey": "rvg_not-a-real-key"})
        key = await admin_api_key(pool, "after-the-noise")
        good = await first_answer({"apiKey": key})

    assert not_an_object == (None, 4400)
    assert wrong_scheme == (None, 4403)
    assert unknown_key == (None, 4403)
    assert good == ({"type": "connection_ack"}, None)  # the server is still fine
