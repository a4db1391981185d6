"""Catalog page benchmark: the library grid's query over real HTTP against the real app.

The app (``create_app``) is served by uvicorn on 127.0.0.1 (a free port) on a fresh embedded
PostgreSQL holding a library of movies, each with 2 files x 3 streams, 2 images, 3 genres and
4 people. For page sizes 10, 50 and 200 it prints the SQL statements one request runs (counted
from the real SQL with asyncpg's query logger) and p50/p95 latency over sequential requests on
one keep-alive httpx client. The client runs in a child process (this script with
``--client``), so its work never shares the server's interpreter lock.

Targets: the same statement count at every page size and <= 8; p50 <= 10 ms at 50 items
(issue 16; it was 25 ms before).

    ./dev bench catalog_page [--movies 500] [--requests 200] [--warmup 20]
"""

from __future__ import annotations

import argparse
import asyncio
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

from infra.database import Database
from infra.settings import load_settings
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import StatementCountingPool, insert_movie_library

PAGE_SIZES = (10, 50, 200)
MAX_STATEMENTS = 8
TARGET_P50_MS = 10.0
FILES, STREAMS, IMAGES, GENRES, PEOPLE = 2, 3, 2, 3, 4

GRID_QUERY = """
query Grid($libraryId: ID!, $first: Int!) {
  items(libraryId: $libraryId, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id kind title year
        files {
          id path container durationMs
          streams { type codec width height channels language }
        }
        images { type width height blurhash url }
        genres { name }
        people { role character person { name } }
      }
    }
  }
}
"""


# --- client (a child process) ---------------------------------------------------------------


def post_grid(client: httpx.Client, library_id: str, first: int) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": GRID_QUERY, "variables": {"libraryId": library_id, "first": first}},
        headers={"accept": "application/graphql-response+json", "x-api-key": API_KEY[0]},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise SystemExit(f"GraphQL errors: {body['errors']}")
    return body


def check_page(body: dict[str, Any], first: int, movies: int) -> None:
    """The page holds what the library was built with (so nothing was silently skipped)."""
    items = body["data"]["items"]
    edges = items["edges"]
    shapes = {
        (
            len(edge["node"]["files"]),
            *{len(file["streams"]) for file in edge["node"]["files"]},
            len(edge["node"]["images"]),
            len(edge["node"]["genres"]),
            len(edge["node"]["people"]),
        )
        for edge in edges
    }
    expected = {(FILES, STREAMS, IMAGES, GENRES, PEOPLE)}
    if (len(edges), items["totalCount"], shapes) != (first, movies, expected):
        raise SystemExit(f"unexpected page at first={first}: {len(edges)} edges, {shapes}")


API_KEY = [os.environ.get("REVENGE_BENCH_API_KEY", "")]


def client_main(url: str, library_id: str, first: int, requests: int, warmup: int) -> None:
    """Warm up, then time sequential requests; prints the times (ms) as JSON."""
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(warmup):
            post_grid(client, library_id, first)
        for _ in range(requests):
            started = time.perf_counter()
            post_grid(client, library_id, first)
            times.append((time.perf_counter() - started) * 1000)
    print(json.dumps(times))


# --- server and measurements ----------------------------------------------------------------


async def time_requests(url: str, library_id: str, first: int, args: argparse.Namespace) -> list:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        url,
        library_id,
        str(first),
        str(args.requests),
        str(args.warmup),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "REVENGE_BENCH_API_KEY": API_KEY[0]},
    )
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"client failed at first={first} (exit {child.returncode})")
    times: list[float] = json.loads(output)
    return times


async def count_statements(
    database: Database, url: str, library_id: str, first: int, movies: int
) -> int:
    """Statements one request runs: the request's context reads ``database.pool`` afresh, so
    swapping in a ``StatementCountingPool`` for one request records exactly its SQL."""
    plain = database.pool
    counting = StatementCountingPool(plain)
    database.pool = counting
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            response = await client.post(
                "/graphql",
                json={"query": GRID_QUERY, "variables": {"libraryId": library_id, "first": first}},
                headers={"x-api-key": API_KEY[0]},
            )
    finally:
        database.pool = plain
    response.raise_for_status()
    check_page(response.json(), first, movies)
    return len(counting.statements)


async def run(args: argparse.Namespace) -> None:
    counts: dict[int, int] = {}
    p50s: dict[int, float] = {}
    t = time.perf_counter()
    async with bench_database_and_url() as (pool, url):
        library_id = str(await insert_movie_library(pool, args.movies))
        API_KEY[0] = await admin_api_key(pool)
        await pool.execute("ANALYZE")
        database = Database(pool=pool, url=url)
        with tempfile.TemporaryDirectory(prefix="revenge-bench-data-") as data_dir:
            settings = load_settings({"REVENGE_LOG_LEVEL": "warning", "REVENGE_DATA_DIR": data_dir})
            async with served(settings, database) as url:
                figure("catalog_page.setup_seconds", time.perf_counter() - t, "s")
                for first in PAGE_SIZES:
                    times = await time_requests(url, library_id, first, args)
                    count = await count_statements(database, url, library_id, first, args.movies)
                    counts[first], p50s[first] = count, median(times)
                    print(f"catalog_page.statements_{first} {count} statements", flush=True)
                    figure(f"catalog_page.p50_{first}", median(times), "ms")
                    figure(f"catalog_page.p95_{first}", percentile(times, 0.95), "ms")
    same = len(set(counts.values())) == 1
    statements_met = same and max(counts.values()) <= MAX_STATEMENTS
    p50_met = p50s[50] <= TARGET_P50_MS
    print(
        f"summary catalog_page movies={args.movies} requests={args.requests} "
        f"statements={'/'.join(str(counts[n]) for n in PAGE_SIZES)} at first=10/50/200 "
        f"(target equal and <= {MAX_STATEMENTS}: {'met' if statements_met else 'MISSED'}) "
        f"p50_at_50={p50s[50]:.1f} ms (target <= {TARGET_P50_MS:.0f}: "
        f"{'met' if p50_met else 'MISSED'}) "
        f"p50_at_10={p50s[10]:.1f} ms p50_at_200={p50s[200]:.1f} ms"
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        url, library_id, first, requests, warmup = sys.argv[2:7]
        client_main(url, library_id, int(first), int(requests), int(warmup))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--movies", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    run_like_serve(run(args))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
