import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.gateway.conftest import run_node
from tests.gateway.fixture_subgraphs import TICK_STREAMS

PROTOCOL = "graphql-transport-ws"


def ws_url(server_url: str) -> str:
    return server_url.replace("http://", "ws://") + "/graphql"


async def send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(json.dumps(message))


async def receive(socket: ClientConnection, skip_pings: bool = True) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 5))
        if not (skip_pings and message["type"] == "ping"):
            return message


async def close_code(socket: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(socket.recv(), 5)
    return socket.close_code, socket.close_reason


async def connected(server_url: str, **options: Any) -> ClientConnection:
    socket = await connect(ws_url(server_url), subprotocols=[PROTOCOL], **options)
    await send(socket, {"type": "connection_init", "payload": {}})
    assert await receive(socket) == {"type": "connection_ack"}
    return socket


async def wait_for_streams_closed() -> None:
    for _ in range(250):  # up to 5 s
        if TICK_STREAMS["opened"] == TICK_STREAMS["closed"]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"subscription streams left open: {TICK_STREAMS}")


# --- the real graphql-ws client --------------------------------------------------------


def test_graphql_ws_client_receives_every_event_then_completes(server_url, node_modules):
    result = run_node("ws-client.mjs", ws_url(server_url), "subscription")

    assert result == {"events": [{"data": {"ticks": n}} for n in range(5)], "completed": True}


def test_graphql_ws_client_subscription_crossing_subgraphs(server_url, node_modules):
    result = run_node("ws-client.mjs", ws_url(server_url), "crossSubgraphSubscription")

    assert result["completed"] is True
    assert result["events"][2] == {
        "data": {
            "reviewPosted": {"body": "Posted 3", "book": {"title": "Book 3", "reviewCount": 1}}
        }
    }


def test_graphql_ws_client_query_and_mutation(server_url, node_modules):
    query = run_node("ws-client.mjs", ws_url(server_url), "query")
    mutation = run_node("ws-client.mjs", ws_url(server_url), "mutation")

    assert query == {
        "events": [
            {
                "data": {
                    "books": [
                        {"id": "1", "title": "Book 1", "reviewCount": 1},
                        {"id": "2", "title": "Book 2", "reviewCount": 1},
                    ]
                }
            }
        ],
        "completed": True,
    }
    assert mutation["events"] == [
        {"data": {"addBook": {"id": "999", "title": "WS", "genre": "NOVEL"}}}
    ]


def test_graphql_ws_client_gets_validation_errors(server_url, node_modules):
    result = run_node("ws-client.mjs", ws_url(server_url), "validationError")

    assert result["events"] == []
    assert result["error"]["graphqlErrors"][0]["extensions"] == {
        "code": "GRAPHQL_VALIDATION_FAILED"
    }


def test_graphql_ws_client_refused_connection_is_4403(server_url, node_modules):
    result = run_node("ws-client.mjs", ws_url(server_url), "forbidden")

    assert result["error"] == {"closeCode": 4403, "closeReason": "Forbidden"}


async def test_graphql_ws_client_unsubscribing_closes_the_stream(server_url, node_modules):
    result = await asyncio.to_thread(run_node, "ws-client.mjs", ws_url(server_url), "unsubscribe")

    assert result["events"] == [{"data": {"ticks": 0}}, {"data": {"ticks": 1}}]
    assert result["after"]["events"] == [{"data": {"greeting": "Hello, again!"}}]
    await wait_for_streams_closed()


# --- protocol details with a plain WebSocket -----------------------------------------


async def test_no_connection_init_in_time_is_4408(server_url):
    async with connect(ws_url(server_url), subprotocols=[PROTOCOL]) as socket:
        assert await close_code(socket) == (4408, "Connection initialisation timeout")


async def test_a_second_connection_init_is_4429(server_url):
    async with await connected(server_url) as socket:
        await send(socket, {"type": "connection_init"})

        assert await close_code(socket) == (4429, "Too many initialisation requests")


async def test_subscribe_before_ack_is_4401(server_url):
    async with connect(ws_url(server_url), subprotocols=[PROTOCOL]) as socket:
        await send(socket, {"id": "1", "type": "subscribe", "payload": {"query": "{ greeting }"}})

        assert await close_code(socket) == (4401, "Unauthorized")


async def test_a_duplicate_operation_id_is_4409(server_url):
    async with await connected(server_url) as socket:
        subscribe = {
            "id": "a",
            "type": "subscribe",
            "payload": {"query": "subscription { ticks(n: 100, delay: 0.05) }"},
        }
        await send(socket, subscribe)
        await send(socket, subscribe)

        assert await close_code(socket) == (4409, "Subscriber for a already exists")
    await wait_for_streams_closed()


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        json.dumps({"no": "type"}),
        json.dumps({"type": "next", "id": "1"}),
        json.dumps({"type": "subscribe", "id": "1", "payload": {"query": 3}}),
    ],
)
async def test_invalid_messages_are_4400(server_url, message):
    async with await connected(server_url) as socket:
        await socket.send(message)

        code, _ = await close_code(socket)
        assert code == 4400


async def test_ping_pong_both_ways(server_url):
    async with await connected(server_url) as socket:
        await send(socket, {"type": "ping"})
        assert await receive(socket) == {"type": "pong"}

        # the server pings on its own (keep-alive every 0.2 s in these tests)
        assert await receive(socket, skip_pings=False) == {"type": "ping"}


async def test_subscription_events_then_complete(server_url):
    async with await connected(server_url) as socket:
        await send(
            socket,
            {"id": "s", "type": "subscribe", "payload": {"query": "subscription { ticks(n: 2) }"}},
        )

        assert await receive(socket) == {
            "id": "s",
            "type": "next",
            "payload": {"data": {"ticks": 0}},
        }
        assert await receive(socket) == {
            "id": "s",
            "type": "next",
            "payload": {"data": {"ticks": 1}},
        }
        assert await receive(socket) == {"id": "s", "type": "complete"}


async def test_client_complete_stops_events_and_closes_the_stream(server_url):
    async with await connected(server_url) as socket:
        await send(
            socket,
            {
                "id": "s",
                "type": "subscribe",
                "payload": {"query": "subscription { ticks(n: 1000, delay: 0.02) }"},
            },
        )
        assert (await receive(socket))["type"] == "next"

        await send(socket, {"id": "s", "type": "complete"})
        await wait_for_streams_closed()
        # the id is free again once completed
        await send(socket, {"id": "s", "type": "subscribe", "payload": {"query": "{ greeting }"}})
        message = await receive(socket)
        while message["type"] == "next" and "ticks" in message["payload"]["data"]:
            message = await receive(socket)
        assert message == {
            "id": "s",
            "type": "next",
            "payload": {"data": {"greeting": "Hello, world!"}},
        }


async def test_disconnecting_closes_running_streams(server_url):
    socket = await connected(server_url)
    await send(
        socket,
        {
            "id": "s",
            "type": "subscribe",
            "payload": {"query": "subscription { ticks(n: 1000, delay: 0.02) }"},
        },
    )
    assert (await receive(socket))["type"] == "next"

    await socket.close()

    await wait_for_streams_closed()


async def test_without_the_subprotocol_is_4406(server_url):
    async with connect(ws_url(server_url)) as socket:
        assert await close_code(socket) == (4406, "Subprotocol not acceptable")


async def test_foreign_origins_are_refused_and_known_ones_accepted(server_url):
    with pytest.raises(InvalidStatus) as refused:
        await connect(ws_url(server_url), subprotocols=[PROTOCOL], origin="https://evil.example")
    assert refused.value.response.status_code == 403

    host = server_url.removeprefix("http://")
    for origin in ("https://app.example", f"http://{host}"):
        async with await connected(server_url, origin=origin) as socket:
            await send(socket, {"type": "ping"})
            assert await receive(socket) == {"type": "pong"}


async def test_a_subscriber_that_falls_behind_is_closed_with_1013(server_url):
    async with await connected(server_url) as socket:
        await send(
            socket,
            {"id": "s", "type": "subscribe", "payload": {"query": "subscription { lagging }"}},
        )

        first = await receive(socket)
        code = await close_code(socket)

    assert first == {"id": "s", "type": "next", "payload": {"data": {"lagging": 1}}}
    assert code == (1013, "Subscriber too slow")
