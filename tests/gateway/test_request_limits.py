"""Request limits on the real app: an expanding document or a deeply nested body is refused
with a clear error while the server goes on answering everyone else."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
from websockets.asyncio.client import connect

from gateway import graphql_http
from tests.gateway.conftest import make_app
from tests.gateway.test_app import Running
from tests.gateway.test_document_limits import fragment_bomb

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_the_fragment_bomb_is_refused_over_http_while_the_server_answers(app: Running):
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        bomb, live = await asyncio.gather(
            client.post(
                "/graphql",
                json={"query": fragment_bomb(41)},
                headers={"accept": GRAPHQL_RESPONSE},
            ),
            client.get("/health/live"),
        )
        after = await client.get("/health/live")

    assert bomb.status_code == 400
    assert bomb.json()["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert (live.status_code, after.status_code) == (200, 200)


async def test_the_fragment_bomb_is_refused_over_websocket(app: Running):
    url = app.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "connection_ack"}
        await socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": fragment_bomb(41)}})
        )
        answer = json.loads(await asyncio.wait_for(socket.recv(), 30))
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        live = await client.get("/health/live")

    assert (answer["id"], answer["type"]) == ("1", "error")
    assert answer["payload"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    assert live.status_code == 200


async def test_deeply_nested_json_is_400(app: Running):
    nested = "[" * 100_000 + "]" * 100_000
    parsable = "[" * 500 + "]" * 500  # json.loads reads it; still too deep to accept
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        body = await client.post(
            "/graphql",
            content=f'{{"query": "{{ serverTime }}", "variables": {{"v": {nested}}}}}',
            headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE},
        )
        shallow_enough_to_parse = await client.post(
            "/graphql",
            content='{"query": "{ serverTime }", "variables": {"v": ' + parsable + "}}",
            headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE},
        )
        in_get = await client.get(
            "/graphql",
            params={"query": "{ serverTime }", "variables": '{"v": ' + parsable + "}"},
            headers={"accept": GRAPHQL_RESPONSE},
        )

    for response in (body, shallow_enough_to_parse, in_get):
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_deeply_nested_json_over_websocket_is_4400(app: Running):
    url = app.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        await asyncio.wait_for(socket.recv(), 10)
        await socket.send('{"type": "ping", "payload": ' + "[" * 100_000 + "]" * 100_000 + "}")
        await asyncio.wait_for(socket.wait_closed(), 10)

    assert socket.close_code == 4400


async def test_new_documents_are_validated_off_the_event_loop(composed, monkeypatch):
    threads = []
    real_validate = graphql_http.validate

    def recording_validate(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(graphql_http, "validate", recording_validate)
    transport = httpx.ASGITransport(app=make_app(composed))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(2):  # the second is a cache hit: not validated again
            response = await client.post("/graphql", json={"query": "{ greeting }"})

    assert response.json() == {"data": {"greeting": "Hello, world!"}}
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()
