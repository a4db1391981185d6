"""Every core: `revenge serve --workers 1` against `--workers 2` on the same PostgreSQL and data.

Each round starts the real server through the CLI (a supervisor and its processes, as users run
it) on one embedded PostgreSQL holding a movie library, waits until every process is ready, and
drives it from a load client in a child process: ``--connections`` keep-alive connections
(new connections are what the kernel spreads over the processes), each sending the next request
as soon as the answer arrived, for ``--seconds``. The client speaks HTTP/1.1 over asyncio
streams itself, without an HTTP library, so that the client's own CPU (which shares the two
cores with the server) stays small. Rounds alternate 1 and 2 processes, ``--rounds`` times;
medians are printed, with the ratio 2 / 1 measured in the same run.

Queries: a list of 100 items with 5 fields (``list100``) and a 50-item page with user data from
another subgraph (``cross50``). For each: requests per second, the server's CPU per request (user
+ system time of the supervisor's whole process tree, from /proc, over the round, divided by
requests), and the tree's RSS before and after the round.

Target (issue 16): list100 >= 400 req/s on 2 cores; the ratio shows whether the second core
serves.

    ./dev bench cores [--movies 300] [--seconds 8] [--rounds 3] [--connections 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _processes import tree, tree_cpu_seconds, tree_rss_mib
from _support import ROOT, bench_database_and_url, median, run_like_serve

from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_movie_library

REVENGE = str(Path(sys.executable).with_name("revenge"))
TARGET_LIST_RPS = 400.0

QUERIES = {
    "list100": (
        "query L($first: Int!) { items(kinds: [MOVIE], first: $first) "
        "{ nodes { id kind title year sortTitle } } }",
        {"first": 100},
    ),
    "cross50": (
        "query C($first: Int!) { items(kinds: [MOVIE], first: $first) { nodes { id title year "
        "userData { isPlayed positionMs isFavorite } } } }",
        {"first": 50},
    ),
}


# --- the load client (a child process) -------------------------------------------------------


async def _connection(
    host: str, port: int, request: bytes, until: float, counts: list[int], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if status != b"200" or b'"errors"' in body:
                errors.append(body[:200].decode(errors="replace"))
                return
            counts[0] += 1
    finally:
        writer.close()


async def _load(url: str, key: str, name: str, connections: int, seconds: float) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    query, variables = QUERIES[name]
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"x-api-key: {key}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    counts, errors = [0], []
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(_connection(host, int(port), request, until, counts, errors) for _ in range(connections))
    )
    elapsed = time.monotonic() - started
    return {"requests": counts[0], "seconds": elapsed, "errors": errors[:3]}


def client_main(url: str, key: str, name: str, connections: int, seconds: float) -> None:
    print(json.dumps(asyncio.run(_load(url, key, name, connections, seconds))))


# --- the server, measured from /proc ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start(
    database_url: str, workers: int, data_dir: str
) -> tuple[asyncio.subprocess.Process, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVENGE_")}
    env.update(
        REVENGE_DATABASE_URL=database_url,
        REVENGE_DATA_DIR=data_dir,
        REVENGE_SERVER_PORT=str(port),
        REVENGE_SERVER_WORKERS=str(workers),
        REVENGE_LOG_LEVEL="warning",
        REVENGE_LOG_ACCESS="false",
        REVENGE_PROBE_WORKERS="1",
    )
    process = await asyncio.create_subprocess_exec(
        REVENGE, "serve", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise SystemExit(f"revenge serve --workers {workers} exited")
            try:
                answer = (await client.get(url + "/health/ready")).json()
                if workers == 1 or answer.get("processes", {}).get("ready") == workers:
                    return process, url
            except (httpx.TransportError, ValueError):
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not become ready")


async def _client(url: str, key: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        url,
        key,
        name,
        str(args.connections),
        str(args.seconds),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the load client failed (exit {child.returncode})")
    result: dict[str, Any] = json.loads(output)
    if result["errors"]:
        raise SystemExit(f"errors from the server: {result['errors']}")
    return result


async def _round(database_url: str, key: str, workers: int, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="revenge-bench-cores-") as data_dir:
        process, url = await _start(database_url, workers, data_dir)
        try:
            await asyncio.sleep(1.0)  # start-up work (encoder probes, job leadership) settles
            figures: dict[str, Any] = {"rss_idle_mb": tree_rss_mib(process.pid)}
            # Each server process with what it started (its probe pool): the supervisor's
            # children, not the supervisor itself.
            servers = tree(process.pid) - {process.pid}
            servers -= {child for server in servers for child in tree(server) - {server}}
            figures["process_rss_idle_mb"] = max(map(tree_rss_mib, servers), default=0.0)
            for name in QUERIES:
                await _client(url, key, name, argparse.Namespace(**{**vars(args), "seconds": 1}))
                cpu_before = tree_cpu_seconds(process.pid)
                result = await _client(url, key, name, args)
                cpu = tree_cpu_seconds(process.pid) - cpu_before
                figures[name] = {
                    "rps": result["requests"] / result["seconds"],
                    "cpu_ms": cpu * 1000 / max(1, result["requests"]),
                }
            figures["rss_after_mb"] = tree_rss_mib(process.pid)
            return figures
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


async def run(args: argparse.Namespace) -> None:
    rounds: dict[int, list[dict]] = {1: [], 2: []}
    async with bench_database_and_url() as (pool, database_url):
        await insert_movie_library(pool, args.movies)
        key = await admin_api_key(pool)
        await pool.execute("ANALYZE")
        for number in range(args.rounds):
            for workers in (1, 2):
                figures = await _round(database_url, key, workers, args)
                rounds[workers].append(figures)
                print(
                    f"round {number + 1} workers={workers} "
                    + " ".join(
                        f"{name}={figures[name]['rps']:.0f}req/s,{figures[name]['cpu_ms']:.2f}ms"
                        for name in QUERIES
                    )
                    + f" rss_idle={figures['rss_idle_mb']:.0f}MB"
                    f" rss_after={figures['rss_after_mb']:.0f}MB",
                    flush=True,
                )
    summary = []
    for name in QUERIES:
        one = median([r[name]["rps"] for r in rounds[1]])
        two = median([r[name]["rps"] for r in rounds[2]])
        cpu_one = median([r[name]["cpu_ms"] for r in rounds[1]])
        cpu_two = median([r[name]["cpu_ms"] for r in rounds[2]])
        print(f"cores.{name}_rps_workers1 {one:.1f} req/s")
        print(f"cores.{name}_rps_workers2 {two:.1f} req/s")
        print(f"cores.{name}_cpu_ms_per_request {cpu_one:.2f} / {cpu_two:.2f} ms (1 / 2 processes)")
        summary.append(f"{name}: {one:.0f} -> {two:.0f} req/s ({two / one:.2f}x)")
    list_two = median([r["list100"]["rps"] for r in rounds[2]])
    idle = median([r["process_rss_idle_mb"] for r in rounds[2]])
    growth = median([r["rss_after_mb"] - r["rss_idle_mb"] for r in rounds[2]])
    print(
        f"summary cores movies={args.movies} connections={args.connections} "
        f"rounds={args.rounds} {'; '.join(summary)}; list100 with 2 processes "
        f"{list_two:.0f} req/s (target >= {TARGET_LIST_RPS:.0f}: "
        f"{'met' if list_two >= TARGET_LIST_RPS else 'MISSED'}); idle RSS per server process "
        f"{idle:.0f} MB; tree RSS growth over a round {growth:+.0f} MB"
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        url, key, name, connections, seconds = sys.argv[2:7]
        client_main(url, key, name, int(connections), float(seconds))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=10)
    run_like_serve(run(parser.parse_args()))


if __name__ == "__main__":
    main()
