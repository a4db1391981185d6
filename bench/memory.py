"""Memory benchmark: ``revenge serve``'s resident memory over tens of thousands of requests.

The ``revenge serve`` command itself (its supervisor and ``server.workers`` processes, the
default for this machine, as deployed) runs as a child process on a fresh embedded PostgreSQL
holding a library of movies with a finished scan and an administrator's API key. Memory is the
RSS of the server's whole process tree (supervisor, server processes, probe pools), read from
/proc. First each shape of ``tests/support/request_shapes.py`` — a catalog list, a list crossing
into the playback subgraph's ``userData``, a ``setFavorite`` mutation, a ``libraryScan``
subscription opened and closed on a fresh graphql-transport-ws connection — gets ``--warmup``
requests; then, shape after shape, ``--requests`` more (``--concurrency`` at a time, every answer
checked), with the RSS read after each half once the server settled.

Figures per shape: RSS after its warm-up, half-way and at the end (MiB), the growth per request
(KB) over all its requests and over the second half, and requests per second; for the run: the
RSS at start (server up, nothing asked), per server process, after the warm-ups and at the end,
and the growth over all the mixed requests. The allocator keeps some of what a burst of requests
used (arenas, fragmentation), which levels off; a leak grows in every half alike. Targets (issue
16): growth <= 20 MB over the 50,000 requests after the warm-ups and <= 1 KB a request over each
shape's second half (the shared ``_GiveUp`` leaked 300-500 KB a catalog page); idle RSS <= 250 MB
per server process.

    ./dev bench memory [--requests 12500] [--warmup 1000] [--concurrency 4] [--shapes list ...]
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
from _processes import tree_rss_mib
from _support import ROOT, bench_database_and_url, figure

from tests.support.request_shapes import SHAPES, ShapeRows, insert_shape_rows, run_shape

TARGET_KB_PER_REQUEST = 1.0
TARGET_GROWTH_MB = 20.0
TARGET_IDLE_MB_PER_PROCESS = 250.0
BIN = Path(sys.executable).parent


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


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> int:
    """Waits until every server process is ready; returns how many there are."""
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"revenge serve exited ({process.returncode})")
            try:
                answer = await client.get("/health/ready")
                processes = answer.json().get("processes") or {"ready": 1, "of": 1}
                if answer.status_code == 200 and processes["ready"] == processes["of"]:
                    return int(processes["of"])
            except (httpx.HTTPError, ValueError):
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


async def settled_rss(pid: int) -> float:
    """The tree's RSS in MiB once closing connections and finished tasks are released."""
    await asyncio.sleep(1.0)
    return tree_rss_mib(pid)


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
                workers = await wait_ready(base, process)
                start = await settled_rss(process.pid)
                figure("memory.server_processes", workers, "")
                figure("memory.rss_start", start, "MiB")
                figure("memory.rss_start_per_process", start / workers, "MiB")
                for shape in args.shapes:
                    await send(base, rows, shape, args.warmup, args.concurrency)
                warm = await settled_rss(process.pid)
                figure("memory.rss_after_warmups", warm, "MiB")
                for shape in args.shapes:
                    half = args.requests // 2
                    before = await settled_rss(process.pid)
                    seconds = await send(base, rows, shape, half, args.concurrency)
                    middle = await settled_rss(process.pid)
                    rest = args.requests - half
                    seconds += await send(base, rows, shape, rest, args.concurrency)
                    after = await settled_rss(process.pid)
                    kb = 1024 * 1.024  # MiB -> KB
                    growth[shape] = (after - middle) * kb / rest
                    figure(f"memory.{shape}.rss_before", before, "MiB")
                    figure(f"memory.{shape}.rss_middle", middle, "MiB")
                    figure(f"memory.{shape}.rss_end", after, "MiB")
                    figure(
                        f"memory.{shape}.growth_per_request",
                        (after - before) * kb / args.requests,
                        "KB",
                    )
                    figure(f"memory.{shape}.growth_per_request_second_half", growth[shape], "KB")
                    figure(f"memory.{shape}.requests_per_second", args.requests / seconds, "req/s")
                end = await settled_rss(process.pid)
                figure("memory.rss_end", end, "MiB")
            finally:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    total = args.requests * len(args.shapes)
    mixed = (end - warm) * 1.048576  # MiB -> MB
    met_shapes = all(value <= TARGET_KB_PER_REQUEST for value in growth.values())
    met_mixed = mixed <= TARGET_GROWTH_MB
    met_idle = start / workers <= TARGET_IDLE_MB_PER_PROCESS
    shapes = " ".join(f"{shape}={value:+.3f}" for shape, value in growth.items())

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    print(
        f"summary memory processes={workers} requests={total} ({args.requests} per shape) after "
        f"{args.warmup} warm-up each: tree RSS {warm:.1f} -> {end:.1f} MiB, {mixed:+.1f} MB "
        f"(target <= {TARGET_GROWTH_MB:.0f}: {verdict(met_mixed)}); growth KB/request over each "
        f"shape's second half {shapes} (target <= {TARGET_KB_PER_REQUEST:.0f}: "
        f"{verdict(met_shapes)}); idle {start:.1f} MiB, {start / workers:.1f} per process "
        f"(target <= {TARGET_IDLE_MB_PER_PROCESS:.0f}: {verdict(met_idle)})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=12_500)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    args = parser.parse_args()
    os.chdir(ROOT)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
