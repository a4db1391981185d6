"""Heartbeat benchmark: ``HeartbeatCoalescer.record`` throughput in one process, and the SQL
statements one flush runs.

On a fresh embedded PostgreSQL, ``--sessions`` playback sessions are opened for one user (each on
its own item). Every session then reports ``--rounds`` heartbeats through ``record()`` (the first
round pays the one ownership query per session; later rounds are served from memory). Printed:
records per second overall and for the warm rounds, the statements of one flush (counted with
asyncpg's query logger, BEGIN/COMMIT left out) and how long that flush took.

Target: >= 2,000 heartbeats per second per process, with writes coalesced.

    .venv/bin/python bench/heartbeats.py [--sessions 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _support import bench_database, figure

from infra.bus import InProcessBus
from resolvers.playback.heartbeats import HeartbeatCoalescer
from resolvers.playback.sessions import Viewer
from resolvers.user.accounts import create_user
from tests.subgraphs.playback.conftest import add_file, add_item, add_library
from tests.support.catalog_rows import StatementCountingPool

TARGET_PER_SECOND = 2000.0
MINUTE = 60_000


async def main(sessions: int, rounds: int) -> int:
    async with bench_database() as pool:
        async with pool.acquire() as conn:
            user = await create_user(conn, "bench-viewer", "a long enough password 1")
            profile_id = await conn.fetchval(
                "SELECT id FROM profiles WHERE user_id = $1", user["id"]
            )
        viewer = Viewer(user["id"], profile_id)
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
        return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    raise SystemExit(asyncio.run(main(arguments.sessions, arguments.rounds)))
