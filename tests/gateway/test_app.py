"""The whole gateway: real app under uvicorn, real PostgreSQL, real media, real clients.

A library is created, scanned with progress watched by the graphql-ws npm client, browsed and
searched over GraphQL-over-HTTP, and bad input is answered with clear errors.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gateway.app import create_app
from infra.settings import load_settings
from tests.gateway.conftest import JS_DIR
from tests.support.asgi_server import Running, running
from tests.support.auth import admin_api_key
from tests.support.media_files import make_image, make_video, make_zero_byte

GRAPHQL_RESPONSE = "application/graphql-response+json"


def REVENGE_ENV_CLEAN() -> dict[str, str]:
    """This process's environment without REVENGE_* settings, for child processes."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REVENGE_")}


@contextmanager
def running_app(database_url: str, data_dir: Path, **environ: str) -> Iterator[Running]:
    settings = load_settings(
        {
            "REVENGE_DATABASE_URL": database_url,
            "REVENGE_DATA_DIR": str(data_dir),
            "REVENGE_PROBE_WORKERS": "2",
            "REVENGE_LOG_LEVEL": "warning",
            **environ,
        }
    )
    with running(create_app(settings)) as served:
        yield served


def library_tree(root: Path) -> None:
    matrix = root / "The Matrix (1999)"
    matrix.mkdir(parents=True)
    make_video(matrix / "The Matrix (1999).mkv", audio_language="eng")
    make_image(matrix / "poster.jpg", 40, 60, "green")
    make_video(root / "Inception (2010).mp4")
    make_video(root / "Heat (1995).mkv", seconds=0.5)
    make_zero_byte(root / "Empty (2000).mkv")


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    body: dict[str, Any] = response.json()
    body["_status"] = response.status_code
    return body


async def watch_scan(url: str, library_id: str, api_key: str) -> dict[str, Any]:
    operation = {
        "query": "subscription ($id: ID!) { libraryScan(libraryId: $id) "
        "{ status filesSeen filesNew filesFailed done } }",
        "variables": {"id": library_id},
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        "ws-client.mjs",
        url.replace("http://", "ws://") + "/graphql",
        "operation",
        json.dumps(operation),
        json.dumps({"apiKey": api_key}),
        cwd=JS_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)
    return result


async def test_create_scan_watch_browse_and_search(
    app: Running, pool: asyncpg.Pool, tmp_path: Path, node_modules: Path
) -> None:
    library_tree(tmp_path / "movies")
    key = await admin_api_key(pool)
    async with httpx.AsyncClient(
        base_url=app.url, timeout=30, headers={"x-api-key": key}
    ) as client:
        created = await gql(
            client,
            "mutation ($input: CreateLibraryInput!) { createLibrary(input: $input) { "
            "__typename ... on CreateLibraryPayload { library { id name kind itemCount } } } }",
            {"input": {"name": "Films", "kind": "MOVIES", "rootPaths": [str(tmp_path / "movies")]}},
        )
        library = created["data"]["createLibrary"]["library"]
        assert (library["name"], library["kind"], library["itemCount"]) == ("Films", "MOVIES", 0)

        watcher = asyncio.create_task(watch_scan(app.url, library["id"], key))
        topic = f"library_scan:{library['id']}"
        for _ in range(500):
            if app.app.state.bus.subscriber_count(topic):
                break
            await asyncio.sleep(0.02)
        started = await gql(
            client,
            "mutation ($id: ID!) { scanLibrary(id: $id) { __typename "
            "... on ScanLibraryPayload { scan { id status } } } }",
            {"id": library["id"]},
        )
        assert started["data"]["scanLibrary"]["__typename"] == "ScanLibraryPayload"
        watched = await watcher

        events = [e["data"]["libraryScan"] for e in watched["events"]]
        assert watched.get("completed") is True
        assert events[-1] == {
            "status": "COMPLETED",
            "filesSeen": 4,
            "filesNew": 4,
            "filesFailed": 1,
            "done": True,
        }
        assert all(not e["done"] for e in events[:-1])

        page = await gql(
            client,
            "query ($id: ID!) { items(libraryId: $id, first: 2) { totalCount "
            "pageInfo { hasNextPage endCursor } edges { node { title year error "
            "files { container streams { type codec } } images { type width height url } } } } }",
            {"id": library["id"]},
        )
        first = page["data"]["items"]
        assert first["totalCount"] == 4
        assert [e["node"]["title"] for e in first["edges"]] == ["Empty", "Heat"]
        assert first["edges"][0]["node"]["error"] == "empty file"
        assert first["pageInfo"]["hasNextPage"] is True
        rest = await gql(
            client,
            "query ($id: ID!, $after: String) { items(libraryId: $id, first: 5, after: $after) "
            "{ edges { node { title images { url width } files { streams { type codec } } } } "
            "pageInfo { hasNextPage } } }",
            {"id": library["id"], "after": first["pageInfo"]["endCursor"]},
        )
        nodes = [e["node"] for e in rest["data"]["items"]["edges"]]
        assert [n["title"] for n in nodes] == ["Inception", "The Matrix"]
        assert rest["data"]["items"]["pageInfo"]["hasNextPage"] is False
        matrix = nodes[1]
        assert matrix["files"][0]["streams"] == [
            {"type": "VIDEO", "codec": "h264"},
            {"type": "AUDIO", "codec": "aac"},
        ]
        poster = await client.get(matrix["images"][0]["url"])
        assert poster.status_code == 200
        assert poster.headers["content-type"] == "image/jpeg"
        assert poster.content[:2] == b"\xff\xd8"

        found = await gql(client, '{ search(query: "matr") { title kind } }')
        assert found["data"]["search"] == [{"title": "The Matrix", "kind": "MOVIE"}]

        counted = await gql(client, "{ libraries { name itemCount lastScanAt } }")
        assert counted["data"]["libraries"][0]["itemCount"] == 4
        assert counted["data"]["libraries"][0]["lastScanAt"] is not None


async def test_bad_input_gets_clear_errors_and_the_server_keeps_serving(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    key = await admin_api_key(pool)
    async with httpx.AsyncClient(
        base_url=app.url, timeout=30, headers={"x-api-key": key}
    ) as client:
        bad_id = await gql(client, '{ item(id: "not-a-uuid") { id } }')
        assert bad_id["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        unknown = await gql(client, '{ item(id: "00000000-0000-7000-8000-000000000000") { id } }')
        assert unknown["data"] == {"item": None}

        deep = "{ items { edges { node { " + "parent { " * 30 + "id" + " }" * 30 + " } } } }"
        too_deep = await gql(client, deep)
        assert too_deep["_status"] == 400
        assert too_deep["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        huge = "{ " + " ".join(f"a{i}: libraries {{ id }}" for i in range(3000)) + " }"
        too_big = await gql(client, huge)
        assert too_big["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        broken = await gql(client, "{ libraries { id ")
        assert broken["_status"] == 400
        assert broken["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"

        missing = await gql(
            client,
            "mutation ($input: CreateLibraryInput!) { createLibrary(input: $input) { "
            "... on LibraryError { code field message } } }",
            {"input": {"name": "X", "kind": "TV", "rootPaths": [str(tmp_path / "nope")]}},
        )
        assert missing["data"]["createLibrary"]["code"] == "PATH_NOT_FOUND"

        image = await client.get("/images/not-a-uuid")
        assert (image.status_code, image.json()["code"]) == (400, "BAD_USER_INPUT")
        image = await client.get("/images/00000000-0000-7000-8000-000000000000")
        assert (image.status_code, image.json()["code"]) == (404, "NOT_FOUND")

        traced = await client.get("/health/live", headers={"x-request-id": "trace-42"})
        assert traced.headers["x-request-id"] == "trace-42"
        assert len((await client.get("/health/live")).headers["x-request-id"]) == 32
        assert (await client.get("/health/ready")).json()["status"] == "ok"
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/health/startup")).status_code == 200
        metrics = await client.get("/metrics")  # off unless enabled (tests/gateway/test_metrics)
        assert (metrics.status_code, metrics.json()["code"]) == (404, "NOT_FOUND")
        assert (await gql(client, "{ libraries { id } }"))["data"] == {"libraries": []}


async def test_anonymous_and_wrong_credentials_are_refused(
    app: Running, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        anonymous = await gql(client, "{ libraries { id } }")
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert anonymous["data"] is None
        for headers in (
            {"x-api-key": "rvg_not-a-key"},
            {"authorization": "Bearer not.a.token"},
            {"authorization": "Basic dXNlcjpwYXNz"},
        ):
            refused = await client.post(
                "/graphql",
                json={"query": "{ libraries { id } }"},
                headers={"accept": GRAPHQL_RESPONSE, **headers},
            )
            assert refused.status_code == 401
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await client.get("/health/live")).status_code == 200  # public
