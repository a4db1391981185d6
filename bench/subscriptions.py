"""Idle subscriptions: what 2,000 open GraphQL subscriptions cost one gateway process.

The app (``create_app``) runs in this process on a fresh embedded PostgreSQL, as the other
benchmarks serve it. A client in a child process (this script with ``--client``) opens
``--sockets`` graphql-transport-ws connections with an administrator's key, starts
``--per-socket`` ``libraryScan`` subscriptions on each (every one holds a bus subscription and a
running operation task), waits until each has received its first event, and then idles. This
process's resident memory is read before, with everything open, and after the client leaves.

Target: 2,000 idle subscriptions within 300 MB RSS.

    ./dev bench subscriptions [--sockets 20] [--per-socket 100] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time

from _support import bench_database_and_url, figure, run_like_serve, served

from infra.database import Database
from infra.settings import load_settings
from tests.support.auth import admin_api_key

TARGET_MB = 300.0
SUBSCRIPTION = "subscription($id: ID!) { libraryScan(libraryId: $id) { id status } }"


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS")


# --- client (a child process) ---------------------------------------------------------------


async def client_main(url: str, key: str, library_id: str, sockets: int, per_socket: int) -> None:
    from websockets.asyncio.client import connect

    opened = []
    for number in range(sockets):
        ws = await connect(url, subprotocols=["graphql-transport-ws"], max_queue=None)
        await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": key}}))
        if json.loads(await ws.recv())["type"] != "connection_ack":
            raise SystemExit("no connection_ack")
        for operation in range(per_socket):
            message = {
                "id": f"{number}-{operation}",
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": {"id": library_id}},
            }
            await ws.send(json.dumps(message))
        opened.append(ws)
    for ws in opened:  # every subscription answers with the library's current scan first
        seen = 0
        while seen < per_socket:
            message = json.loads(await ws.recv())
            if message["type"] == "next":
                seen += 1
            elif message["type"] != "ping":
                raise SystemExit(f"unexpected message: {message}")
    print("ready", flush=True)
    sys.stdin.readline()  # idle until the parent has measured
    for ws in opened:
        await ws.close()


# --- server (this process) ------------------------------------------------------------------


async def _redis_connections(url: str) -> int:
    """Pub/sub connections open on the Redis server (this benchmark is its only client)."""
    import redis.asyncio as redis

    client = redis.from_url(url)
    try:
        return sum(1 for c in await client.client_list() if int(c.get("sub", 0)) > 0)
    finally:
        await client.aclose()


async def run(args: argparse.Namespace) -> None:
    async with bench_database_and_url() as (pool, url):
        database = Database(pool=pool, url=url)
        library_id = await pool.fetchval(
            "INSERT INTO libraries (name, kind, root_paths) VALUES ('Bench', 'movies', "
            "ARRAY['/nowhere']) RETURNING id"
        )
        await pool.execute(
            "INSERT INTO library_scans (library_id, status) VALUES ($1, 'completed')", library_id
        )
        with tempfile.TemporaryDirectory(prefix="revenge-bench-subs-") as data_dir:
            environ = {"REVENGE_LOG_LEVEL": "warning", "REVENGE_DATA_DIR": data_dir}
            if args.redis:
                environ["REVENGE_CACHE_URL"] = args.redis
            settings = load_settings(environ)
            async with served(settings, database, backlog=1024) as http_base:
                base = http_base.replace("http://", "ws://") + "/graphql"
                key = await admin_api_key(pool, "bench-owner")
                await asyncio.sleep(1.0)
                before = rss_mb()
                started = time.perf_counter()
                child = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--client",
                    base,
                    key,
                    str(library_id),
                    str(args.sockets),
                    str(args.per_socket),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
                assert child.stdout is not None and child.stdin is not None
                line = await asyncio.wait_for(child.stdout.readline(), 300)
                if line.strip() != b"ready":
                    raise SystemExit(f"client failed: {line!r}")
                open_s = time.perf_counter() - started
                await asyncio.sleep(2.0)  # idle: nothing flows
                loaded = rss_mb()
                redis_connections = await _redis_connections(args.redis) if args.redis else 0
                child.stdin.write(b"done\n")
                await child.stdin.drain()
                await child.wait()
                await asyncio.sleep(1.0)
                after = rss_mb()
    count = args.sockets * args.per_socket
    figure("subscriptions.count", count, "subscriptions")
    figure("subscriptions.open_seconds", open_s, "s")
    figure("subscriptions.rss_before", before, "MiB")
    figure("subscriptions.rss_loaded", loaded, "MiB")
    figure("subscriptions.rss_after", after, "MiB")
    figure("subscriptions.per_subscription", (loaded - before) * 1024 / count, "KiB")
    if args.redis:
        figure("subscriptions.redis_pubsub_connections", redis_connections, "connections")
    met = loaded <= TARGET_MB
    print(
        f"summary subscriptions count={count} over {args.sockets} sockets "
        f"rss_loaded={loaded:.1f} MiB (before {before:.1f}, after {after:.1f}; target <= "
        f"{TARGET_MB:.0f}: {'met' if met else 'MISSED'}) "
        f"per_subscription={(loaded - before) * 1024 / count:.1f} KiB",
        flush=True,
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        url, key, library_id, sockets, per_socket = sys.argv[2:7]
        asyncio.run(client_main(url, key, library_id, int(sockets), int(per_socket)))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--per-socket", type=int, default=100)
    parser.add_argument("--redis", help="a Redis URL: run the bus on Redis pub/sub")
    run_like_serve(run(parser.parse_args()))


if __name__ == "__main__":
    main()
