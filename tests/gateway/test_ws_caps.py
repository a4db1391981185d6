"""A socket's caps: operations at once, sockets awaiting connection_init, message size."""

from __future__ import annotations

import json

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.gateway.conftest import make_app, serve
from tests.gateway.test_graphql_ws import PROTOCOL, close_code, connected, receive, send


def ticks(operation_id: str) -> dict:
    query = "subscription { ticks(n: 1000, delay: 30) }"
    return {"id": operation_id, "type": "subscribe", "payload": {"query": query}}


async def test_one_operation_over_the_cap_is_rate_limited(composed):
    with serve(make_app(composed, ws_max_operations=3)) as url:
        socket = await connected(url)
        for operation_id in ("1", "2", "3", "4"):
            await send(socket, ticks(operation_id))
        refused = await receive(socket)
        await send(socket, {"id": "2", "type": "complete"})
        await send(socket, {"id": "5", "type": "subscribe", "payload": {"query": "{ greeting }"}})
        answered = await receive(socket)
        completed = await receive(socket)
        await socket.close()

    assert (refused["id"], refused["type"]) == ("4", "error")
    assert refused["payload"][0]["extensions"] == {"code": "RATE_LIMITED"}
    assert answered == {
        "id": "5",
        "type": "next",
        "payload": {"data": {"greeting": "Hello, world!"}},
    }
    assert completed == {"id": "5", "type": "complete"}


async def _waiting(url: str):
    return await connect(url.replace("http://", "ws://") + "/graphql", subprotocols=[PROTOCOL])


async def test_sockets_awaiting_init_are_capped_per_address(composed):
    with serve(make_app(composed, ws_max_pending_per_address=2, ws_max_pending=0)) as url:
        first, second, third = await _waiting(url), await _waiting(url), await _waiting(url)
        third_closed = await close_code(third)
        await send(first, {"type": "connection_init", "payload": {}})
        first_ack = await receive(first)
        fourth = await _waiting(url)  # first no longer waits: its place is free
        await send(fourth, {"type": "connection_init", "payload": {}})
        fourth_ack = await receive(fourth)
        for socket in (first, second, fourth):
            await socket.close()

    assert third_closed == (4429, "Too many connections awaiting initialisation")
    assert first_ack == fourth_ack == {"type": "connection_ack"}


async def test_sockets_awaiting_init_are_capped_overall(composed):
    with serve(make_app(composed, ws_max_pending=1, ws_max_pending_per_address=0)) as url:
        first, second = await _waiting(url), await _waiting(url)
        second_closed = await close_code(second)
        await first.close()
        third = None
        for _ in range(100):  # the server counts the closed socket out when its loop ends
            third = await _waiting(url)
            await send(third, {"type": "connection_init", "payload": {}})
            try:
                third_ack = await receive(third)
                break
            except ConnectionClosed:
                continue
        assert third is not None
        await third.close()

    assert second_closed[0] == 4429
    assert third_ack == {"type": "connection_ack"}


async def test_a_message_over_a_megabyte_closes_with_1009(composed):
    with serve(make_app(composed)) as url:
        under = await connected(url)
        await send(under, {"type": "ping", "payload": {"pad": "x" * 1_000_000}})
        pong = await receive(under)
        await under.close()
        over = await connected(url, max_size=None)
        await over.send(json.dumps({"type": "ping", "payload": {"pad": "x" * 2_000_000}}))
        closed = await close_code(over)

    assert pong == {"type": "pong"}
    assert closed == (1009, "Message too big")
