"""Persisted queries benchmark: a catalog page as a persisted-query hit vs as full text.

The real app (``create_app``) under uvicorn on a fresh embedded PostgreSQL with a library of
movies (2 files x 3 streams, 2 images, 3 genres, 4 people each). The library grid's query is sent
either as full text or, once registered, as an APQ hash alone (``extensions.persistedQuery``), as
Apollo Client's persisted-query link sends it. Requests alternate between the two on one
keep-alive httpx client in a child process, so both see the same server state; p50 and p95 of
each and the ratio hit/full-text are printed. What a hit saves is the request's size and the
lookup of the text; parsing and validation are cached for full text too, so expect a ratio
near 1 on a page this size — the bandwidth (bytes per request) is printed as well.

    ./dev bench persisted_queries [--movies 200] [--first 10] [--requests 300] [--warmup 30]
"""

from __future__ import annotations

import argparse
import asyncio
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

from infra.database import Database
from infra.settings import load_settings
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_movie_library

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


def client_main(url: str, library_id: str, first: int, requests: int, warmup: int) -> None:
    """Register, warm up, then alternate hit and full text; prints the times (ms) as JSON."""
    key = os.environ["REVENGE_BENCH_API_KEY"]
    sent = bodies(library_id, first)
    times: dict[str, list[float]] = {"hit": [], "full_text": []}
    with httpx.Client(base_url=url, timeout=60) as client:
        send(client, sent["register"], key, first)
        for _ in range(warmup):
            for kind in times:
                send(client, sent[kind], key, first)
        for i in range(requests):
            order = ("hit", "full_text") if i % 2 == 0 else ("full_text", "hit")
            for kind in order:
                started = time.perf_counter()
                send(client, sent[kind], key, first)
                times[kind].append((time.perf_counter() - started) * 1000)
    print(json.dumps({"times": times, "bytes": {k: len(v) for k, v in sent.items()}}))


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
                    str(args.requests), str(args.warmup),
                    stdout=asyncio.subprocess.PIPE,
                    env={**os.environ, "REVENGE_BENCH_API_KEY": key},
                )  # fmt: skip
                output, _ = await child.communicate()
                if child.returncode != 0:
                    raise SystemExit(f"client failed (exit {child.returncode})")
            stored = await pool.fetchval(
                "SELECT count(*) FROM persisted_queries WHERE sha256 = $1", GRID_HASH
            )
    measured = json.loads(output)
    times, sizes = measured["times"], measured["bytes"]
    hit, full = median(times["hit"]), median(times["full_text"])
    figure("persisted_queries.hit_p50", hit, "ms")
    figure("persisted_queries.hit_p95", percentile(times["hit"], 0.95), "ms")
    figure("persisted_queries.full_text_p50", full, "ms")
    figure("persisted_queries.full_text_p95", percentile(times["full_text"], 0.95), "ms")
    figure("persisted_queries.hit_request_bytes", sizes["hit"], "bytes")
    figure("persisted_queries.full_text_request_bytes", sizes["full_text"], "bytes")
    print(
        f"summary persisted_queries movies={args.movies} first={args.first} "
        f"requests={args.requests} each, alternating; hit_p50={hit:.2f} ms "
        f"full_text_p50={full:.2f} ms ratio(hit/full_text)={hit / full:.3f} "
        f"request_bytes {sizes['hit']} vs {sizes['full_text']} stored_rows={stored}"
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        url, library_id, first, requests, warmup = sys.argv[2:7]
        client_main(url, library_id, int(first), int(requests), int(warmup))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--movies", type=int, default=200)
    parser.add_argument("--first", type=int, default=10)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    run_like_serve(run(args))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
