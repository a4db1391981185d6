"""Persisted queries benchmark: a catalog page as a persisted-query hit vs as full text.

The real app (``create_app``) under uvicorn, in this process, on a fresh embedded PostgreSQL with
a library of movies (2 files x 3 streams, 2 images, 3 genres, 4 people each). The library grid's
query is sent either as full text or, once registered, as an APQ hash alone
(``extensions.persistedQuery``), as Apollo Client's persisted-query link sends it, from a
keep-alive httpx client in a child process.

Two figures per kind, hit against full text:
- **server CPU per request**: the kinds alternate in blocks of ``--block`` requests; around each
  block the client reads the CPU time of every thread of the server process
  (``/proc/<pid>/task/*/schedstat``, nanoseconds) and divides by the block's requests. The
  PostgreSQL backends are other processes: their work is the same for both kinds and is not
  counted. This is the cost the target speaks of, free of the client's own time and of the
  loopback's noise;
- **round trip**: each request's wall time at the client (p50, p95).

Full text is served from the parse and validation caches too, so a hit saves what is left: the
larger body's reading and JSON decoding, and finding the checked operation by its text (a hit
finds it by its 64-character hash). The bytes per request are printed as well.

    ./dev bench persisted_queries [--movies 200] [--first 10] [--blocks 20] [--block 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import sys
import tempfile
import time
from typing import Any

import httpx
from _support import (
    ROOT,
    bench_database_and_url,
    figure,
    median,
    percentile,
    run_like_serve,
    served,
)
from catalog_page import GRID_QUERY

from infra.database import Database
from infra.settings import load_settings
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_movie_library

GRID_HASH = hashlib.sha256(GRID_QUERY.encode()).hexdigest()
PERSISTED = {"persistedQuery": {"version": 1, "sha256Hash": GRID_HASH}}


# --- client (a child process) ---------------------------------------------------------------


def bodies(library_id: str, first: int) -> dict[str, bytes]:
    variables = {"libraryId": library_id, "first": first}
    return {
        "full_text": json.dumps({"query": GRID_QUERY, "variables": variables}).encode(),
        "hit": json.dumps({"extensions": PERSISTED, "variables": variables}).encode(),
        "register": json.dumps(
            {"query": GRID_QUERY, "extensions": PERSISTED, "variables": variables}
        ).encode(),
    }


def send(client: httpx.Client, body: bytes, key: str, first: int) -> None:
    response = client.post(
        "/graphql",
        content=body,
        headers={
            "content-type": "application/json",
            "accept": "application/graphql-response+json",
            "x-api-key": key,
        },
    )
    response.raise_for_status()
    parsed: dict[str, Any] = response.json()
    if parsed.get("errors") or len(parsed["data"]["items"]["edges"]) != first:
        raise SystemExit(f"unexpected answer: {str(parsed)[:300]}")


def server_cpu_ns(pid: int) -> int:
    """CPU time of every thread of process ``pid`` so far, in nanoseconds."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                total += int(handle.read().split()[0])
    return total


def client_main(url: str, library_id: str, first: int, blocks: int, block: int) -> None:
    """Register, warm up, then alternate blocks of hits and of full text; prints the round
    trips (ms) and the server's CPU per request of each block (µs) as JSON."""
    key = os.environ["REVENGE_BENCH_API_KEY"]
    server = os.getppid()
    sent = bodies(library_id, first)
    times: dict[str, list[float]] = {"hit": [], "full_text": []}
    cpu: dict[str, list[float]] = {"hit": [], "full_text": []}
    with httpx.Client(base_url=url, timeout=60) as client:
        send(client, sent["register"], key, first)
        for _ in range(max(block // 2, 20)):
            for kind in times:
                send(client, sent[kind], key, first)
        for i in range(blocks):
            order = ("hit", "full_text") if i % 2 == 0 else ("full_text", "hit")
            for kind in order:
                before = server_cpu_ns(server)
                for _ in range(block):
                    started = time.perf_counter()
                    send(client, sent[kind], key, first)
                    times[kind].append((time.perf_counter() - started) * 1000)
                cpu[kind].append((server_cpu_ns(server) - before) / block / 1000)
    print(
        json.dumps({"times": times, "cpu_us": cpu, "bytes": {k: len(v) for k, v in sent.items()}})
    )


# --- in-process: the app called directly, CPU per request of the thread that ran it ----------


async def call_app(app: Any, body: bytes, key: str) -> bytes:
    """One ``POST /graphql`` through the whole ASGI app (middleware, routing, endpoint)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"accept", b"application/graphql-response+json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-api-key", key.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False
    answer: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # nothing more: the request is complete
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def respond(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"status {message['status']}")
        if message["type"] == "http.response.body":
            answer.append(message.get("body", b""))

    await app(scope, receive, respond)
    return b"".join(answer)


async def in_process(
    settings: Any, database: Database, library_id: str, key: str, first: int, requests: int
) -> dict[str, list[float]]:
    """Hit and full text one after the other ``requests`` times (order alternating), each
    timed with ``time.thread_time_ns``: the CPU this thread spent on it, the database waits
    left out."""
    from gateway.app import create_app

    app = create_app(settings, database=database)
    sent = bodies(library_id, first)
    cpu: dict[str, list[float]] = {"hit": [], "full_text": []}
    async with app.router.lifespan_context(app):
        await call_app(app, sent["register"], key)
        for _ in range(200):
            for kind in cpu:
                await call_app(app, sent[kind], key)
        gc.collect()
        for i in range(requests):
            order = ("hit", "full_text") if i % 2 == 0 else ("full_text", "hit")
            for kind in order:
                started = time.thread_time_ns()
                answer = await call_app(app, sent[kind], key)
                cpu[kind].append((time.thread_time_ns() - started) / 1000)
                if b'"errors"' in answer:
                    raise SystemExit(f"unexpected answer: {answer[:300]!r}")
    return cpu


def graphql_endpoint(app: Any) -> Any:
    from gateway.graphql_http import GraphQLHTTPEndpoint

    for route in app.routes:
        if isinstance(getattr(route, "app", None), GraphQLHTTPEndpoint):
            return route.app
    raise SystemExit("no /graphql endpoint")


async def document_stage(
    settings: Any, database: Database, library_id: str, key: str, first: int, requests: int
) -> dict[str, list[float]]:
    """The part of a request a persisted query changes, alone: reading and decoding the body,
    resolving the document (text, or hash to text) and finding its checked operation. Who asks
    is resolved once beforehand, and nothing executes: both are the same for either kind."""
    from starlette.requests import Request

    from gateway.app import create_app

    app = create_app(settings, database=database)
    sent = bodies(library_id, first)
    cost: dict[str, list[float]] = {"hit": [], "full_text": []}
    async with app.router.lifespan_context(app):
        await call_app(app, sent["register"], key)
        endpoint = graphql_endpoint(app)

        def request(body: bytes) -> Request:
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-api-key", key.encode()),
            ]
            scope: dict[str, Any] = {
                "type": "http",
                "method": "POST",
                "path": "/graphql",
                "headers": headers,
            }
            scope.update(app=app, client=("127.0.0.1", 50000), query_string=b"")

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            return Request(scope, receive)

        principal = (await endpoint.context_factory(request(sent["hit"]), None)).principal

        async def stage(body: bytes) -> None:
            params = await endpoint._params(request(body))
            document = await endpoint.persisted.resolve(
                principal, params["query"], params["extensions"], params["documentId"]
            )
            await endpoint.service.prepare(
                document.text, params["operationName"], params["variables"], key=document.sha256
            )

        for _ in range(500):
            for kind in cost:
                await stage(sent[kind])
        gc.collect()
        for i in range(requests):
            order = ("hit", "full_text") if i % 2 == 0 else ("full_text", "hit")
            for kind in order:
                started = time.perf_counter_ns()
                await stage(sent[kind])
                cost[kind].append((time.perf_counter_ns() - started) / 1000)
    return cost


# --- server and measurements ----------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    t = time.perf_counter()
    async with bench_database_and_url() as (pool, url):
        library_id = str(await insert_movie_library(pool, args.movies))
        key = await admin_api_key(pool)
        await pool.execute("ANALYZE")
        database = Database(pool=pool, url=url)
        with tempfile.TemporaryDirectory(prefix="revenge-bench-data-") as data_dir:
            settings = load_settings({"REVENGE_LOG_LEVEL": "warning", "REVENGE_DATA_DIR": data_dir})
            async with served(settings, database) as base:
                figure("persisted_queries.setup_seconds", time.perf_counter() - t, "s")
                child = await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "--client", base, library_id, str(args.first),
                    str(args.blocks), str(args.block),
                    stdout=asyncio.subprocess.PIPE,
                    env={**os.environ, "REVENGE_BENCH_API_KEY": key},
                )  # fmt: skip
                output, _ = await child.communicate()
                if child.returncode != 0:
                    raise SystemExit(f"client failed (exit {child.returncode})")
            stored = await pool.fetchval(
                "SELECT count(*) FROM persisted_queries WHERE sha256 = $1", GRID_HASH
            )
            direct = await in_process(
                settings, database, library_id, key, args.direct_first, args.direct_requests
            )
            stage = await document_stage(
                settings, database, library_id, key, args.first, args.stage_requests
            )
    stage_hit, stage_full = median(stage["hit"]), median(stage["full_text"])
    stage_cheaper = sum(h < f for h, f in zip(stage["hit"], stage["full_text"], strict=True))
    figure("persisted_queries.document_stage_hit_p50", stage_hit, "us")
    figure("persisted_queries.document_stage_full_text_p50", stage_full, "us")
    direct_hit, direct_full = median(direct["hit"]), median(direct["full_text"])
    direct_cheaper = sum(h < f for h, f in zip(direct["hit"], direct["full_text"], strict=True))
    figure("persisted_queries.in_process_hit_cpu_p50", direct_hit, "us")
    figure("persisted_queries.in_process_full_text_cpu_p50", direct_full, "us")
    measured = json.loads(output)
    times, cpu, sizes = measured["times"], measured["cpu_us"], measured["bytes"]
    hit_cpu, full_cpu = median(cpu["hit"]), median(cpu["full_text"])
    # Blocks ran in pairs, side by side in time: the share of pairs where the hit cost less.
    cheaper = sum(h < f for h, f in zip(cpu["hit"], cpu["full_text"], strict=True))
    hit, full = median(times["hit"]), median(times["full_text"])
    figure("persisted_queries.hit_server_cpu_p50", hit_cpu, "us")
    figure("persisted_queries.full_text_server_cpu_p50", full_cpu, "us")
    figure("persisted_queries.hit_p50", hit, "ms")
    figure("persisted_queries.hit_p95", percentile(times["hit"], 0.95), "ms")
    figure("persisted_queries.full_text_p50", full, "ms")
    figure("persisted_queries.full_text_p95", percentile(times["full_text"], 0.95), "ms")
    figure("persisted_queries.hit_request_bytes", sizes["hit"], "bytes")
    figure("persisted_queries.full_text_request_bytes", sizes["full_text"], "bytes")
    print(
        f"summary persisted_queries movies={args.movies} first={args.first} "
        f"{args.blocks} blocks of {args.block} requests each, alternating; "
        f"server_cpu_per_request hit={hit_cpu:.1f} us full_text={full_cpu:.1f} us "
        f"ratio(hit/full_text)={hit_cpu / full_cpu:.3f} "
        f"(hit cheaper in {cheaper}/{len(cpu['hit'])} block pairs); "
        f"round_trip_p50 hit={hit:.2f} ms full_text={full:.2f} ms ratio={hit / full:.3f}; "
        f"request_bytes {sizes['hit']} vs {sizes['full_text']} stored_rows={stored}"
    )
    print(
        f"summary persisted_queries.in_process first={args.direct_first} "
        f"{args.direct_requests} pairs, order alternating; cpu_per_request_p50 "
        f"hit={direct_hit:.1f} us full_text={direct_full:.1f} us "
        f"ratio(hit/full_text)={direct_hit / direct_full:.3f} "
        f"(hit cheaper in {direct_cheaper}/{args.direct_requests} pairs)"
    )
    print(
        f"summary persisted_queries.document_stage first={args.first} "
        f"{args.stage_requests} pairs, order alternating; p50 hit={stage_hit:.1f} us "
        f"full_text={stage_full:.1f} us ratio(hit/full_text)={stage_hit / stage_full:.3f} "
        f"(hit cheaper in {stage_cheaper}/{args.stage_requests} pairs)"
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        url, library_id, first, blocks, block = sys.argv[2:7]
        client_main(url, library_id, int(first), int(blocks), int(block))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--movies", type=int, default=200)
    parser.add_argument("--first", type=int, default=10)
    parser.add_argument("--blocks", type=int, default=20, help="blocks of each kind")
    parser.add_argument("--block", type=int, default=100, help="requests per block")
    parser.add_argument("--direct-first", type=int, default=1, help="page size, in-process")
    parser.add_argument("--direct-requests", type=int, default=3000, help="pairs, in-process")
    parser.add_argument("--stage-requests", type=int, default=20000, help="pairs, stage alone")
    args = parser.parse_args()
    run_like_serve(run(args))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
