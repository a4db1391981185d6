"""NUL characters and lone surrogates are refused at the edge with BAD_USER_INPUT, over HTTP and
WebSocket, whether they come in variables or in the document's string literals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import parse
from websockets.asyncio.client import connect

from gateway.input_checks import unstorable_text
from tests.gateway.test_app import running_app
from tests.support.auth import admin_api_key

SEARCH = "query ($q: String!) { search(query: $q) { title } }"
GENRE = "query ($g: String) { items(genre: $g) { totalCount } }"
CREATE = (
    "mutation ($name: String!, $paths: [String!]!) { createLibrary(input: "
    "{name: $name, kind: MOVIES, rootPaths: $paths}) { __typename } }"
)

# NUL arrives in a literal as an escape or as the character itself (JSON carries it escaped);
# a lone surrogate only in variables (graphql-core's lexer refuses it in literals).
NUL_ESCAPE = "\\u0000"


def _cases(folder: str) -> list[tuple[str, str, dict[str, Any]]]:
    bad_texts = {"nul": "Al\x00ien", "surrogate": "Al\ud800ien"}
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for kind, text in bad_texts.items():
        cases += [
            (f"search variable {kind}", SEARCH, {"q": text}),
            (f"genre variable {kind}", GENRE, {"g": text}),
            (f"name variable {kind}", CREATE, {"name": text, "paths": [folder]}),
        ]
    for kind, nul in {"escape": NUL_ESCAPE, "character": "\x00"}.items():
        cases += [
            (f"search literal {kind}", f'{{ search(query: "Al{nul}ien") {{ title }} }}', {}),
            (f"genre literal {kind}", f'{{ items(genre: "Dra{nul}ma") {{ totalCount }} }}', {}),
            (
                f"name literal {kind}",
                f'mutation ($paths: [String!]!) {{ createLibrary(input: {{name: "Fil{nul}ms", '
                "kind: MOVIES, rootPaths: $paths}) { __typename } }",
                {"paths": [folder]},
            ),
        ]
    return cases


def _codes(body: Any) -> list[Any]:
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]


@pytest.fixture
def cases(tmp_path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, document, variables) with a NUL or a lone surrogate; the library folder exists."""
    folder = tmp_path / "films"
    folder.mkdir()
    return _cases(str(folder))


async def test_http_refuses_nul_and_lone_surrogates(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path, cases: list[Any]
) -> None:
    with running_app(database_url, tmp_path / "data") as app:
        key = await admin_api_key(pool)
        async with httpx.AsyncClient(base_url=app.url, headers={"x-api-key": key}) as client:
            answers = {}
            for name, query, variables in cases:
                response = await client.post(  # json.dumps escapes what UTF-8 cannot encode
                    "/graphql",
                    content=json.dumps({"query": query, "variables": variables}),
                    headers={
                        "accept": "application/graphql-response+json",
                        "content-type": "application/json",
                    },
                )
                answers[name] = (response.status_code, _codes(response.json()))
            fine = await client.post(
                "/graphql", json={"query": SEARCH, "variables": {"q": "Alien \U0001f47d"}}
            )

    assert answers == {name: (400, ["BAD_USER_INPUT"]) for name, _, _ in cases}
    assert fine.json() == {"data": {"search": []}}
    assert await pool.fetchval("SELECT count(*) FROM libraries") == 0


async def test_websocket_refuses_nul_and_lone_surrogates(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path, cases: list[Any]
) -> None:
    with running_app(database_url, tmp_path / "data") as app:
        key = await admin_api_key(pool)
        url = app.url.replace("http://", "ws://") + "/graphql"
        answers = {}
        async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"apiKey": key}}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
            for index, (name, query, variables) in enumerate(cases):
                payload = {"query": query, "variables": variables}
                await socket.send(
                    json.dumps({"id": str(index), "type": "subscribe", "payload": payload})
                )
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                answers[name] = (message["type"], _codes({"errors": message["payload"]}))

    assert answers == {name: ("error", ["BAD_USER_INPUT"]) for name, _, _ in cases}
    assert await pool.fetchval("SELECT count(*) FROM libraries") == 0


def test_the_error_names_the_variable_and_the_literal() -> None:
    document = parse(SEARCH)

    by_variable = unstorable_text(document, {"q": "x", "input": {"tags": ["ok", "b\x00d"]}})
    by_key = unstorable_text(document, {"input": {"ba\ud800d": 1}})
    by_literal = unstorable_text(parse('{ search(query: "a\\u0000") { title } }'), None)

    assert [e.message for e in by_variable] == [
        "Variable $input.tags[1] contains a NUL character or a lone surrogate, which no field"
        " accepts."
    ]
    assert [e.message for e in by_key] == [
        "A key in variable $input contains a NUL character or a lone surrogate, which no field"
        " accepts."
    ]
    assert [(e.locations[0].line, e.locations[0].column) for e in by_literal] == [(1, 17)]
    assert unstorable_text(document, {"q": "Amélie \U0001f47d", "n": [1, None, {"a": True}]}) == []
    assert unstorable_text(document, {"q": "\\u0000 is how JSON writes NUL"}) == []


def test_deeply_nested_variables_are_walked_without_recursion() -> None:
    nested: Any = "b\x00d"
    for _ in range(100_000):
        nested = [nested]

    assert len(unstorable_text(parse(SEARCH), {"q": nested})) == 1


async def test_a_lone_surrogate_in_the_text_of_a_persisted_query_is_refused(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    # Given query text with a lone surrogate in a comment, sent with a persisted-query hash
    # (the text has no UTF-8 form, so it cannot be hashed or stored)
    query = "# \ud800\n{ serverTime }"
    payload = {
        "query": query,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}},
    }
    with running_app(database_url, tmp_path / "data") as app:
        async with httpx.AsyncClient(base_url=app.url) as client:
            response = await client.post(
                "/graphql",
                content=json.dumps(payload),
                headers={"content-type": "application/json"},
            )
            plain = await client.post(
                "/graphql",
                content=json.dumps({"query": query}),
                headers={"content-type": "application/json"},
            )
        url = app.url.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))

    # Then HTTP answers 400 BAD_USER_INPUT and WebSocket an error, never a 500 or INTERNAL
    assert (response.status_code, _codes(response.json())) == (400, ["BAD_USER_INPUT"])
    assert plain.status_code == 200  # without a hash: graphql-core's syntax error
    assert _codes(plain.json()) == ["GRAPHQL_PARSE_FAILED"]
    assert (message["type"], _codes({"errors": message["payload"]})) == (
        "error",
        ["BAD_USER_INPUT"],
    )
