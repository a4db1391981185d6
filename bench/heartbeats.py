"""Heartbeat benchmark: heartbeats per second per process, in-process and over HTTP, and the
writes they cost.

On a fresh embedded PostgreSQL, ``--sessions`` playback sessions are opened for one user (each on
its own item).

1. In-process: every session reports ``--rounds`` heartbeats through
   ``HeartbeatCoalescer.record`` (the first round pays the one ownership query per session;
   later rounds are served from memory). Printed: records per second overall and for the warm
   rounds, the statements of one flush (counted with asyncpg's query logger, BEGIN/COMMIT left
   out) and how long that flush took.
2. Over HTTP, the whole way a player's heartbeat goes: ``revenge serve`` itself (granian, a
   child process on the same database) and wrk (C, from Debian) sending the
   ``reportProgress`` mutation with an API key for ``--http-seconds`` from ``--connections``
   connections, the sessions in turn. Printed: heartbeats per second, p50/p99 latency, errors
   (non-200 answers or GraphQL errors, counted by the Lua script), the server's CPU per
   heartbeat (its whole process tree, from /proc), and the rows the phase wrote to
   ``playback_sessions`` (``pg_stat_user_tables``): coalesced, that is at most one row per
   session per flush interval in each server process (wrk sends every session over every
   connection, so each process hears each session), where one write per heartbeat would be one
   row each.

Target: >= 2,000 heartbeats per second per process, with writes coalesced.

    .venv/bin/python bench/heartbeats.py [--sessions 2000] [--rounds 5] [--http-seconds 10]
        [--connections 10]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from _processes import tree_cpu_seconds
from _support import bench_database_and_url, figure
from stream import free_port, start_revenge, stop, wait_ready, wrk_binary

from infra.bus import InProcessBus
from resolvers.playback.heartbeats import HeartbeatCoalescer
from resolvers.playback.sessions import Viewer
from tests.subgraphs.playback.conftest import add_file, add_item, add_library
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import StatementCountingPool

TARGET_PER_SECOND = 2000.0
MINUTE = 60_000


async def main(args: argparse.Namespace) -> int:
    sessions, rounds = args.sessions, args.rounds
    async with bench_database_and_url() as (pool, database_url):
        key = await admin_api_key(pool, "bench-viewer")
        user_id = await pool.fetchval("SELECT id FROM users WHERE name = 'bench-viewer'")
        profile_id = await pool.fetchval("SELECT id FROM profiles WHERE user_id = $1", user_id)
        viewer = Viewer(user_id, profile_id)
        library_id = await add_library(pool)
        first_item = await add_item(pool, library_id, "Film")
        file_id = await add_file(pool, first_item)
        items = await pool.fetch(
            "INSERT INTO media_items (library_id, kind, title, sort_title) "
            "SELECT $1, 'movie', 'Film ' || n, 'Film ' || n FROM generate_series(1, $2) AS n "
            "RETURNING id",
            library_id,
            sessions - 1,
        )
        rows = await pool.fetch(
            "INSERT INTO playback_sessions (user_id, profile_id, item_id, file_id, method) "
            "SELECT $1, $2, i, $3, 'DIRECT_PLAY' FROM unnest($4::uuid[]) AS i RETURNING id",
            viewer.user_id,
            viewer.profile_id,
            file_id,
            [first_item, *(row["id"] for row in items)],
        )
        ids = [row["id"] for row in rows]
        counting = StatementCountingPool(pool)
        heartbeats = HeartbeatCoalescer(counting, InProcessBus(), interval=3600)  # type: ignore[arg-type]

        started = time.perf_counter()
        for session_id in ids:  # cold: one ownership query per session
            await heartbeats.record(session_id, viewer, 10 * MINUTE, False)
        cold = time.perf_counter() - started
        warm_started = time.perf_counter()
        for round_number in range(1, rounds):
            for session_id in ids:
                await heartbeats.record(
                    session_id, viewer, 10 * MINUTE + round_number * 10_000, False
                )
        warm = time.perf_counter() - warm_started
        total = len(ids) * rounds
        before = len(counting.statements)
        flush_started = time.perf_counter()
        flushed = await heartbeats.flush()
        flush_seconds = time.perf_counter() - flush_started
        statements = [s for s in counting.statements[before:] if s not in ("BEGIN;", "COMMIT;")]
        await heartbeats.close()

        overall = total / (cold + warm)
        warm_rate = len(ids) * (rounds - 1) / warm if rounds > 1 and warm > 0 else 0.0
        figure("heartbeats_recorded", total, "records")
        figure("heartbeats_per_second_cold", len(ids) / cold, "records/s")
        figure("heartbeats_per_second_warm", warm_rate, "records/s")
        figure("heartbeats_per_second_overall", overall, "records/s")
        figure("flush_sessions", flushed, "sessions")
        figure("flush_statements", len(statements), "statements")
        figure("flush_duration", flush_seconds * 1000, "ms")
        ok = overall >= TARGET_PER_SECOND and len(statements) == 2
        print(
            f"summary heartbeats {overall:.0f}/s overall (target >= {TARGET_PER_SECOND:.0f}/s), "
            f"{len(statements)} statements for a flush of {flushed} sessions: "
            f"{'PASS' if ok else 'FAIL'}",
            flush=True,
        )
        http = await over_http(pool, database_url, key, [str(i) for i in ids], args)
        return 0 if ok and http else 1


# The sessions in turn, a position that grows, errors counted (a GraphQL error is HTTP 200).
WRK_SCRIPT = """
local ids = {IDS}
local threads = {}
n = 0
bad = 0
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "KEY"
function setup(thread)
  table.insert(threads, thread)
end
function request()
  n = n + 1
  local body = '{"query":"mutation($s: ID!, $p: Int!) { reportProgress(sessionId: $s, ' ..
    'positionMs: $p, isPaused: false) { sessionId resumePositionMs } }",' ..
    '"variables":{"s":"' .. ids[(n % #ids) + 1] .. '","p":' .. (600000 + n) .. '}}'
  return wrk.format(nil, "/graphql", nil, body)
end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", latency:percentile(50),
    latency:percentile(99), summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout, errors))
end
"""


async def rows_written(pool: asyncpg.Pool) -> int:
    """Rows updated in ``playback_sessions`` so far, as the statistics collector counts them."""
    value = await pool.fetchval(
        "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'playback_sessions'"
    )
    return int(value or 0)


async def over_http(
    pool: asyncpg.Pool, database_url: str, key: str, ids: list[str], args: argparse.Namespace
) -> bool:
    """Phase 2: ``revenge serve`` on the same database, wrk sending ``reportProgress``."""
    with tempfile.TemporaryDirectory(prefix="revenge-bench-heartbeats-") as work:
        script = Path(work) / "heartbeats.lua"
        listed = "{" + ",".join(f'"{session}"' for session in ids) + "}"
        script.write_text(WRK_SCRIPT.replace("{IDS}", listed).replace("KEY", key))
        port = free_port()
        environ = {
            "REVENGE_DATABASE_URL": database_url,
            "REVENGE_DATA_DIR": work,
            "REVENGE_LOG_LEVEL": "warning",
        }
        server = start_revenge("revenge", port, environ)
        base = f"http://127.0.0.1:{port}"
        try:
            await asyncio.to_thread(
                wait_ready, f"{base}/health/ready", server, headers={}, status=200
            )
            await asyncio.sleep(1.0)  # the statistics collector's counts settle
            ready = await asyncio.to_thread(_ready, f"{base}/health/ready")
            processes = int((ready.get("processes") or {"of": 1})["of"])
            before = await rows_written(pool)
            command = [
                wrk_binary(), "-t1", f"-c{args.connections}", f"-d{args.http_seconds}s",
                "-s", str(script), base,
            ]  # fmt: skip
            cpu_before = tree_cpu_seconds(server.pid)
            done = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, check=False
            )
            cpu = (tree_cpu_seconds(server.pid) - cpu_before) * 1e9  # ns, every server process
            line = next((row for row in done.stdout.splitlines() if row.startswith("RESULT")), "")
            if done.returncode != 0 or not line:
                raise SystemExit(f"wrk failed: {done.stderr[-500:]}")
            p50, p99, requests, duration_us, socket_errors, bad = map(int, line.split()[1:])
            stop(server)  # SIGTERM: the coalescer's last flush runs at shutdown
            await asyncio.sleep(1.5)
            written = await rows_written(pool) - before
        finally:
            stop(server)
    rate = requests / (duration_us / 1e6)
    figure("http_heartbeats_per_second", rate, "requests/s")
    figure("http_server_cpu_per_heartbeat", cpu / requests / 1000, "us")
    figure("http_latency_p50", p50 / 1000, "ms")
    figure("http_latency_p99", p99 / 1000, "ms")
    figure("http_errors", bad + socket_errors, "errors")
    figure("http_rows_written", written, "rows")
    figure("http_heartbeats_sent", requests, "requests")
    # The 5 s interval, a flush at each end, in each server process: wrk spreads every session
    # over all the connections, so each process coalesces (and writes) the sessions it heard.
    flushes = (args.http_seconds / 5.0 + 2) * processes
    coalesced = written <= len(ids) * flushes and written < requests
    figure("http_server_processes", processes, "")
    ok = rate >= TARGET_PER_SECOND and bad + socket_errors == 0 and coalesced
    print(
        f"summary heartbeats.http revenge serve ({processes} processes), "
        f"{args.connections} connections, "
        f"{len(ids)} sessions: {rate:.0f}/s (target >= {TARGET_PER_SECOND:.0f}/s), "
        f"server CPU {cpu / requests / 1000:.0f} us a heartbeat, "
        f"p50={p50 / 1000:.1f} ms p99={p99 / 1000:.1f} ms errors={bad + socket_errors}; "
        f"{requests} heartbeats wrote {written} playback_sessions rows "
        f"({'coalesced' if coalesced else 'NOT coalesced'}): {'PASS' if ok else 'FAIL'}",
        flush=True,
    )
    return ok


def _ready(url: str) -> dict:
    answer: dict = httpx.get(url, timeout=5).json()
    return answer


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
