"""Memory benchmark: ``revenge serve``'s resident memory over tens of thousands of requests.

The ``revenge serve`` command itself (granian, as deployed) runs as a child process on a fresh
embedded PostgreSQL holding a library of movies with a finished scan and an administrator's API
key. For each shape of ``tests/support/request_shapes.py`` — a catalog list, a list crossing into
the playback subgraph's ``userData``, a ``setFavorite`` mutation, a ``libraryScan`` subscription
opened and closed on a fresh graphql-transport-ws connection — this script sends ``--warmup``
requests, reads the server's RSS, sends ``--requests`` more (``--concurrency`` at a time, every
answer checked), waits for the server to settle, and reads its RSS again.

Figures per shape: RSS after the warm-up, half-way and at the end (MiB), the growth per
request (KB) over all the requests and over the second half, and requests per second; the run's
RSS at start (server up, nothing asked) and end. The allocator keeps some of what a burst of
requests used (arenas, fragmentation), which levels off; a leak grows in every half alike.
Target: growth over the second half <= 1 KB a request for every shape (the shared ``_GiveUp``
leaked 300-500 KB a catalog page), i.e. RSS flat.

    ./dev bench memory [--requests 10000] [--warmup 1000] [--concurrency 4] [--shapes list ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _support import ROOT, bench_database_and_url, figure

from tests.support.request_shapes import SHAPES, ShapeRows, insert_shape_rows, run_shape

TARGET_KB_PER_REQUEST = 1.0
BIN = Path(sys.executable).parent


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_serve(port: int, environ: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **environ,
        "REVENGE_SERVER_HOST": "127.0.0.1",
        "REVENGE_SERVER_PORT": str(port),
    }
    return subprocess.Popen([str(BIN / "revenge"), "serve"], env=env, cwd=ROOT)


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"revenge serve exited ({process.returncode})")
            try:
                if (await client.get("/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("revenge serve did not come up")


async def send(base: str, rows: ShapeRows, shape: str, requests: int, concurrency: int) -> float:
    """``requests`` of ``shape``, ``concurrency`` at a time; returns the seconds taken."""
    from websockets.asyncio.client import connect as ws_connect

    ws_url = base.replace("http://", "ws://") + "/graphql"

    async def connect() -> object:
        return await ws_connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]

    numbers = iter(range(requests))
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def lane() -> None:
            for number in numbers:
                await run_shape(shape, number, rows, client, connect)  # type: ignore[arg-type]

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - started


async def settled_rss(pid: int) -> int:
    await asyncio.sleep(1.0)  # closing connections and finished tasks are released
    return rss_kib(pid)


async def run(args: argparse.Namespace) -> None:
    growth: dict[str, float] = {}
    async with bench_database_and_url() as (pool, database_url):
        rows = await insert_shape_rows(pool)
        with tempfile.TemporaryDirectory(prefix="revenge-bench-memory-") as data_dir:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            process = start_serve(
                port,
                {
                    "REVENGE_DATABASE_URL": database_url,
                    "REVENGE_DATA_DIR": data_dir,
                    "REVENGE_LOG_LEVEL": "warning",
                },
            )
            try:
                await wait_ready(base, process)
                start = await settled_rss(process.pid)
                figure("memory.rss_start", start / 1024, "MiB")
                for shape in args.shapes:
                    await send(base, rows, shape, args.warmup, args.concurrency)
                    half = args.requests // 2
                    before = await settled_rss(process.pid)
                    seconds = await send(base, rows, shape, half, args.concurrency)
                    middle = await settled_rss(process.pid)
                    rest = args.requests - half
                    seconds += await send(base, rows, shape, rest, args.concurrency)
                    after = await settled_rss(process.pid)
                    whole = (after - before) * 1.024 / args.requests  # KiB -> KB
                    growth[shape] = (after - middle) * 1.024 / rest
                    figure(f"memory.{shape}.rss_after_warmup", before / 1024, "MiB")
                    figure(f"memory.{shape}.rss_middle", middle / 1024, "MiB")
                    figure(f"memory.{shape}.rss_end", after / 1024, "MiB")
                    figure(f"memory.{shape}.growth_per_request", whole, "KB")
                    figure(f"memory.{shape}.growth_per_request_second_half", growth[shape], "KB")
                    figure(f"memory.{shape}.requests_per_second", args.requests / seconds, "req/s")
                end = rss_kib(process.pid)
                figure("memory.rss_end", end / 1024, "MiB")
            finally:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    met = all(value <= TARGET_KB_PER_REQUEST for value in growth.values())
    shapes = " ".join(f"{shape}={value:+.3f}" for shape, value in growth.items())
    print(
        f"summary memory requests={args.requests} per shape after {args.warmup} warm-up, "
        f"growth KB/request over the second half {shapes} (target <= {TARGET_KB_PER_REQUEST:.0f}: "
        f"{'met' if met else 'MISSED'}) rss start={start / 1024:.1f} MiB end={end / 1024:.1f} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    args = parser.parse_args()
    os.chdir(ROOT)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
