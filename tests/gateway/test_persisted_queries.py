"""Persisted queries through the real app: APQ with Apollo Client's link, and trusted documents.

The app runs under uvicorn on the test database; Apollo Client 4's persisted-query link (npm)
drives it in POST and GET modes; raw HTTP and WebSocket requests check the refusals.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from gateway.graphql_http import GRAPHQL_RESPONSE_JSON
from gateway.persisted_queries import PersistedQueries
from infra.keyvalue import RedisKeyValue
from infra.ratelimit import InProcessLimiter, LockoutPolicy
from resolvers.user.accounts import create_user
from resolvers.user.api_clients import create_api_client, register_documents
from resolvers.user.api_keys import create_api_key
from tests.gateway.conftest import run_node
from tests.gateway.test_app import Running
from tests.support.auth import admin_api_key

ME = "query Me { me { name } }"
ITEMS = "query Items($first: Int!) { items(first: $first) { totalCount } }"
INTROSPECTION = "{ __schema { queryType { name } } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hashed(text: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha(text)}}


async def post(
    running: Running, body: dict[str, Any], key: str, accept: str = GRAPHQL_RESPONSE_JSON
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
        return await client.post(
            "/graphql", json=body, headers={"x-api-key": key, "accept": accept}
        )


async def get(running: Running, params: dict[str, Any], key: str) -> httpx.Response:
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
        return await client.get(
            "/graphql", params=query, headers={"x-api-key": key, "accept": GRAPHQL_RESPONSE_JSON}
        )


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors", [])]


async def stored(pool: asyncpg.Pool) -> list[str]:
    return [row["sha256"] for row in await pool.fetch("SELECT sha256 FROM persisted_queries")]


# --- APQ -----------------------------------------------------------------------------------


async def test_apollo_client_link_misses_registers_then_hits_over_post_and_get(
    app: Running, pool: asyncpg.Pool, node_modules: Path
) -> None:
    key = await admin_api_key(pool, "apollo")

    post_run = await asyncio.to_thread(
        run_node, "persisted-client.mjs", f"{app.url}/graphql", "post", key
    )
    get_run = await asyncio.to_thread(
        run_node, "persisted-client.mjs", f"{app.url}/graphql", "get", key
    )

    expected_data = {"me": {"__typename": "User", "id": post_run["results"][0]["data"]["me"]["id"],
                            "name": "apollo"},
                     "items": {"__typename": "MediaItemConnection", "totalCount": 0}}  # fmt: skip
    assert post_run["results"][:2] == [{"data": expected_data, "error": None}] * 2
    assert get_run["results"][:2] == [{"data": expected_data, "error": None}] * 2
    # POST: the first call misses (400 on graphql-response+json) and the retry registers, the
    # second call hits; the mutation does the same over POST.
    assert [
        (e["method"], e["sentQuery"], e["status"], e["errorCodes"]) for e in post_run["exchanges"]
    ] == [
        ("POST", False, 400, ["PERSISTED_QUERY_NOT_FOUND"]),
        ("POST", True, 200, []),
        ("POST", False, 200, []),
        ("POST", False, 400, ["PERSISTED_QUERY_NOT_FOUND"]),
        ("POST", True, 200, []),
    ]
    # GET: the documents are stored already, so every hashed GET hits; the mutation POSTs.
    assert [
        (e["method"], e["sentQuery"], e["status"], e["errorCodes"]) for e in get_run["exchanges"]
    ] == [("GET", False, 200, []), ("GET", False, 200, []), ("POST", False, 200, [])]
    assert all(e["sentHash"] for e in post_run["exchanges"] + get_run["exchanges"])
    assert sorted(await stored(pool)) == sorted(
        {e["sentHash"] for e in post_run["exchanges"]}
    )  # the query and the mutation


async def test_apollo_get_mode_registers_by_post_after_a_get_miss(
    app: Running, pool: asyncpg.Pool, node_modules: Path
) -> None:
    key = await admin_api_key(pool, "apollo")

    run = await asyncio.to_thread(
        run_node, "persisted-client.mjs", f"{app.url}/graphql", "get", key
    )

    assert [(e["method"], e["sentQuery"], e["status"]) for e in run["exchanges"]] == [
        ("GET", False, 400),
        ("POST", True, 200),
        ("GET", False, 200),
        ("POST", False, 400),
        ("POST", True, 200),
    ]
    assert len(await stored(pool)) == 2


async def test_unknown_hash_is_not_found_200_for_legacy_json(
    app: Running, pool: asyncpg.Pool
) -> None:
    key = await admin_api_key(pool)

    strict = await post(app, {"extensions": hashed(ME)}, key)
    legacy = await post(app, {"extensions": hashed(ME)}, key, accept="application/json")

    assert (strict.status_code, legacy.status_code) == (400, 200)
    assert (
        strict.json()
        == legacy.json()
        == {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ]
        }
    )
    assert strict.headers["cache-control"] == "no-store"


async def test_a_hit_picks_the_named_operation_of_a_stored_document_each_time(
    app: Running, pool: asyncpg.Pool
) -> None:
    # Hits find their checked operation by (hash, operation name): two names of one document
    # must not share an entry.
    key = await admin_api_key(pool)
    both = f"{ME} query Total {{ items(first: 1) {{ totalCount }} }}"
    registered = await post(app, {"query": both, "extensions": hashed(both)}, key)
    assert codes(registered) == ["OPERATION_RESOLUTION_FAILURE"]  # two operations, no name
    first = await post(app, {"query": both, "extensions": hashed(both), "operationName": "Me"}, key)
    answers = [
        await post(app, {"extensions": hashed(both), "operationName": name}, key)
        for name in ("Total", "Me", "Total", "Nope")
    ]

    assert list(first.json()["data"]) == ["me"]
    assert [list(answer.json().get("data") or {}) for answer in answers[:3]] == [
        ["items"],
        ["me"],
        ["items"],
    ]
    assert codes(answers[3]) == ["OPERATION_RESOLUTION_FAILURE"]


async def test_a_hash_sent_in_capitals_finds_the_stored_document(
    app: Running, pool: asyncpg.Pool
) -> None:
    key = await admin_api_key(pool)
    await post(app, {"query": ME, "extensions": hashed(ME)}, key)
    capitals = {"persistedQuery": {"version": 1, "sha256Hash": sha(ME).upper()}}

    answer = await post(app, {"extensions": capitals}, key)

    assert answer.status_code == 200
    assert "me" in answer.json()["data"]


async def test_a_hash_that_does_not_match_its_query_is_400_and_stores_nothing(
    app: Running, pool: asyncpg.Pool
) -> None:
    key = await admin_api_key(pool)

    response = await post(
        app, {"query": ME, "extensions": hashed("{ me { id } }")}, key, accept="application/json"
    )

    assert response.status_code == 400
    assert codes(response) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert "does not match" in response.json()["errors"][0]["message"]
    assert await stored(pool) == []


async def test_unknown_version_and_malformed_hash_are_400(app: Running, pool: asyncpg.Pool) -> None:
    key = await admin_api_key(pool)

    version = await post(app, {"query": ME, "extensions": hashed(ME, version=2)}, key)
    malformed = await post(
        app, {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}, key
    )

    assert (version.status_code, codes(version)) == (400, ["PERSISTED_QUERY_VERSION_NOT_SUPPORTED"])
    assert (malformed.status_code, codes(malformed)) == (400, ["BAD_REQUEST"])


async def test_an_oversized_document_is_not_stored(app: Running, pool: asyncpg.Pool) -> None:
    key = await admin_api_key(pool)
    big = "query Big { me { name } }" + " " * (64 * 1024)

    response = await post(app, {"query": big, "extensions": hashed(big)}, key)

    assert (response.status_code, codes(response)) == (400, ["PERSISTED_QUERY_TOO_LARGE"])
    assert await stored(pool) == []


async def test_an_invalid_document_is_answered_and_not_stored(
    app: Running, pool: asyncpg.Pool
) -> None:
    key = await admin_api_key(pool)
    invalid = "{ nothingHere }"

    response = await post(app, {"query": invalid, "extensions": hashed(invalid)}, key)

    assert (response.status_code, codes(response)) == (400, ["GRAPHQL_VALIDATION_FAILED"])
    assert await stored(pool) == []


async def test_get_hashed_query_runs_and_get_hashed_mutation_is_405(
    app: Running, pool: asyncpg.Pool
) -> None:
    key = await admin_api_key(pool, "getter")
    mutation = 'mutation M { createApiClient(name: "x") { __typename } }'
    await post(app, {"query": ME, "extensions": hashed(ME)}, key)
    await post(app, {"query": mutation, "extensions": hashed(mutation)}, key)

    query = await get(app, {"extensions": hashed(ME)}, key)
    by_get = await get(app, {"extensions": hashed(mutation)}, key)

    assert (query.status_code, query.json()) == (200, {"data": {"me": {"name": "getter"}}})
    assert (by_get.status_code, by_get.headers["allow"]) == (405, "POST")
    assert await pool.fetchval("SELECT count(*) FROM api_clients") == 1  # the POST only


async def test_a_stored_document_survives_a_restart_through_postgresql(
    app: Running, pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    from tests.gateway.test_app import running_app

    key = await admin_api_key(pool, "again")
    await post(app, {"query": ME, "extensions": hashed(ME)}, key)

    with running_app(database_url, tmp_path / "second") as second:
        response = await post(second, {"extensions": hashed(ME)}, key)

    assert response.json() == {"data": {"me": {"name": "again"}}}


# --- trusted documents ----------------------------------------------------------------------


async def persisted_only_key(pool: asyncpg.Pool, app: Running, *documents: str) -> tuple[str, Any]:
    async with pool.acquire() as conn:
        owner = await create_user(
            conn, f"app-owner-{uuid.uuid4().hex[:6]}", "correct horse battery", ("admin",)
        )
    user = owner["id"]
    client = await create_api_client(pool, "Third-party app", user)
    check = app.app.state.services["document_checker"]
    await register_documents(pool, client["id"], {sha(d): d for d in documents}, check, user)
    _, key = await create_api_key(
        pool, user, "app key", ["catalog:read", "playback:read"], client_id=client["id"],
        persisted_only=True,
    )  # fmt: skip
    return key, client["id"]


async def test_a_persisted_only_key_runs_its_documents_by_document_id_or_hash(
    app: Running, pool: asyncpg.Pool
) -> None:
    key, _ = await persisted_only_key(pool, app, ITEMS)
    variables = {"first": 1}

    by_prefixed_id = await post(
        app, {"documentId": f"sha256:{sha(ITEMS)}", "variables": variables}, key
    )
    by_bare_id = await post(app, {"documentId": sha(ITEMS), "variables": variables}, key)
    by_extension = await post(app, {"extensions": hashed(ITEMS), "variables": variables}, key)
    by_get = await get(app, {"documentId": f"sha256:{sha(ITEMS)}", "variables": variables}, key)

    expected = {"data": {"items": {"totalCount": 0}}}
    for response in (by_prefixed_id, by_bare_id, by_extension, by_get):
        assert (response.status_code, response.json()) == (200, expected)


async def test_a_persisted_only_key_is_refused_raw_text_introspection_and_registration(
    app: Running, pool: asyncpg.Pool
) -> None:
    key, _ = await persisted_only_key(pool, app, ITEMS)

    raw = await post(app, {"query": ITEMS, "variables": {"first": 1}}, key)
    introspection = await post(app, {"query": INTROSPECTION}, key, accept="application/json")
    registration = await post(app, {"query": ME, "extensions": hashed(ME)}, key)
    by_get = await get(app, {"query": ME}, key)

    for response in (raw, introspection, registration, by_get):
        assert response.status_code == 403
        assert codes(response) == ["PERSISTED_QUERY_ONLY"]
    assert await stored(pool) == []


async def test_a_persisted_only_key_cannot_run_other_documents(
    app: Running, pool: asyncpg.Pool
) -> None:
    admin = await admin_api_key(pool)
    await post(app, {"query": ME, "extensions": hashed(ME)}, admin)  # in the APQ store
    key, _ = await persisted_only_key(pool, app, ITEMS)
    other_key, _ = await persisted_only_key(pool, app, ME)  # another client's document

    apq_document = await post(app, {"extensions": hashed(ME)}, key)
    unknown = await post(app, {"documentId": "0" * 64}, key)
    malformed = await post(app, {"documentId": "sha256:xyz"}, key)
    own = await post(app, {"documentId": sha(ME)}, other_key)

    assert codes(apq_document) == codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert (malformed.status_code, codes(malformed)) == (400, ["BAD_REQUEST"])
    assert own.json() == {"data": {"me": {"name": own.json()["data"]["me"]["name"]}}}


async def test_a_revoked_document_stops_running(app: Running, pool: asyncpg.Pool) -> None:
    key, client_id = await persisted_only_key(pool, app, ITEMS)
    before = await post(app, {"documentId": sha(ITEMS), "variables": {"first": 1}}, key)

    await pool.execute(
        "UPDATE api_client_documents SET revoked_at = now() WHERE client_id = $1", client_id
    )
    after = await post(app, {"documentId": sha(ITEMS), "variables": {"first": 1}}, key)

    assert before.status_code == 200
    assert (after.status_code, codes(after)) == (400, ["PERSISTED_QUERY_NOT_FOUND"])


async def test_a_revoked_client_s_keys_stop_working(app: Running, pool: asyncpg.Pool) -> None:
    key, client_id = await persisted_only_key(pool, app, ITEMS)

    await pool.execute("UPDATE api_clients SET revoked_at = now() WHERE id = $1", client_id)
    response = await post(app, {"documentId": sha(ITEMS), "variables": {"first": 1}}, key)

    assert (response.status_code, codes(response)) == (401, ["UNAUTHENTICATED"])


async def test_a_persisted_only_key_over_websocket(app: Running, pool: asyncpg.Pool) -> None:
    key, _ = await persisted_only_key(pool, app, ITEMS)
    url = app.url.replace("http://", "ws://") + "/graphql"

    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": {"apiKey": key}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "raw", "type": "subscribe", "payload": {
            "query": ITEMS, "variables": {"first": 1}}}))  # fmt: skip
        raw = json.loads(await socket.recv())
        await socket.send(json.dumps({"id": "trusted", "type": "subscribe", "payload": {
            "documentId": f"sha256:{sha(ITEMS)}", "variables": {"first": 1}}}))  # fmt: skip
        trusted = [json.loads(await socket.recv()) for _ in range(2)]

    assert raw["id"] == "raw" and raw["type"] == "error"
    assert [error["extensions"]["code"] for error in raw["payload"]] == ["PERSISTED_QUERY_ONLY"]
    assert trusted == [
        {"id": "trusted", "type": "next", "payload": {"data": {"items": {"totalCount": 0}}}},
        {"id": "trusted", "type": "complete"},
    ]


# --- the store's layers ---------------------------------------------------------------------


async def test_new_documents_per_caller_are_capped_and_capped_ones_still_run(
    app: Running, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three new documents an hour for this test; the app's limiter was made with the policy.
    persisted = next(
        route.app.persisted for route in app.app.routes if hasattr(route.app, "persisted")
    )
    tight = LockoutPolicy(
        max_failures=3, window_seconds=3600, first_lockout_seconds=3600, forget_after_seconds=3600
    )
    monkeypatch.setattr(persisted, "_registrations", InProcessLimiter(tight))
    documents = [f"query Q{n} {{ me {{ name }} }}" for n in range(5)]

    anonymous = [
        await post(app, {"query": text, "extensions": hashed(text)}, "") for text in documents
    ]
    # Every operation ran; only the first three were stored for this address.
    assert all(answer.status_code == 200 for answer in anonymous)
    assert all(answer.json() == {"data": {"me": None}} for answer in anonymous)
    assert sorted(await stored(pool)) == sorted(sha(text) for text in documents[:3])
    missed = await post(app, {"extensions": hashed(documents[4])}, "")
    assert codes(missed) == ["PERSISTED_QUERY_NOT_FOUND"]

    # Another caller has a quota of its own; one stored before costs nothing.
    key = await admin_api_key(pool)
    again = await post(app, {"query": documents[0], "extensions": hashed(documents[0])}, key)
    fourth = await post(app, {"query": documents[3], "extensions": hashed(documents[3])}, key)
    assert again.status_code == fourth.status_code == 200
    assert sha(documents[3]) in await stored(pool)
    assert (await post(app, {"extensions": hashed(documents[3])}, key)).status_code == 200


async def test_replicas_share_documents_through_redis_and_postgresql(
    pool: asyncpg.Pool, redis_url: str
) -> None:
    writer, through_redis, through_postgres = (
        PersistedQueries(), PersistedQueries(), PersistedQueries()
    )  # fmt: skip
    writer.attach(pool, RedisKeyValue(redis_url, prefix=f"test-{uuid.uuid4().hex}:"))
    through_redis.attach(None, writer._keyvalue)  # type: ignore[arg-type]  # Redis alone
    through_postgres.attach(pool, None)

    assert await writer.save(sha(ME), ME, "user:writer")

    assert await through_redis.find(sha(ME)) == ME
    assert await through_postgres.find(sha(ME)) == ME
    assert await through_redis.find(sha(ITEMS)) is None
    await writer.close()


def test_the_in_process_cache_is_bounded_by_entries_and_characters() -> None:
    store = PersistedQueries(cache_entries=2, cache_chars=10)

    for name in ("a", "b", "c"):
        store._cache.put(name, "xxx")
    store._cache.put("big", "y" * 8)

    assert list(store._cache.items) == ["big"]
    assert store._cache.chars == 8
