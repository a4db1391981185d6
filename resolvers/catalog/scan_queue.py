"""The scan queue in PostgreSQL: enqueue, claim, heartbeat, hand back.

Any process may run scans (``revenge serve``'s in-process worker, or ``revenge worker``
processes on the same database). A queued scan is claimed with one conditional UPDATE, so two
processes never run the same scan; a running scan whose owner stopped renewing its heartbeat
(crashed, killed, or a process on this host that no longer exists) is claimed again and picks
up where the files already written leave it.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

import asyncpg

__all__ = [
    "CHANNEL",
    "STALE_AFTER_S",
    "Claim",
    "claim_scan",
    "claimable_scans",
    "enqueue_scan",
    "heartbeat",
    "new_worker_id",
    "requeue_scans",
]

CHANNEL = "revenge_scan_queued"
STALE_AFTER_S = 30.0
_HOST = socket.gethostname()


def new_worker_id() -> str:
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _is_dead_local(worker_id: str | None) -> bool:
    """A worker on this host whose process is gone cannot be sending heartbeats."""
    if not worker_id:
        return False
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True, slots=True)
class Claim:
    scan_id: uuid.UUID
    library_id: uuid.UUID
    full: bool


async def enqueue_scan(
    conn: asyncpg.Connection, library_id: uuid.UUID, *, full: bool
) -> tuple[uuid.UUID, bool] | None:
    """The library's active scan: (id, newly queued). None when the library does not exist."""
    async with conn.transaction():
        exists = await conn.fetchval("SELECT 1 FROM libraries WHERE id = $1 FOR SHARE", library_id)
        if exists is None:
            return None
        scan_id: uuid.UUID | None = await conn.fetchval(
            "INSERT INTO library_scans (library_id, status, full_rescan) "
            "VALUES ($1, 'queued', $2) "
            "ON CONFLICT (library_id) WHERE status IN ('queued', 'running') DO NOTHING "
            "RETURNING id",
            library_id,
            full,
        )
        if scan_id is not None:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(scan_id))
            return scan_id, True
        active: uuid.UUID = await conn.fetchval(
            "SELECT id FROM library_scans WHERE library_id = $1 "
            "AND status IN ('queued', 'running')",
            library_id,
        )
        return active, False


async def claimable_scans(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Queued scans, and running ones whose owner is gone, oldest first."""
    rows = await conn.fetch(
        "SELECT id, status, worker_id, "
        "heartbeat_at < now() - make_interval(secs => $1) AS stale "
        "FROM library_scans WHERE status IN ('queued', 'running') ORDER BY created_at",
        STALE_AFTER_S,
    )
    return [
        r["id"]
        for r in rows
        if r["status"] == "queued" or r["stale"] or _is_dead_local(r["worker_id"])
    ]


async def claim_scan(conn: asyncpg.Connection, scan_id: uuid.UUID, worker_id: str) -> Claim | None:
    """Take the scan for ``worker_id`` if it is free to take; None when another has it."""
    owner = await conn.fetchval("SELECT worker_id FROM library_scans WHERE id = $1", scan_id)
    row = await conn.fetchrow(
        "UPDATE library_scans SET status = 'running', worker_id = $2, heartbeat_at = now(), "
        "started_at = coalesce(started_at, now()), finished_at = NULL, error = NULL "
        "WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND ("
        "heartbeat_at < now() - make_interval(secs => $3) "
        "OR ($4 AND worker_id IS NOT DISTINCT FROM $5)))) "
        "RETURNING library_id, full_rescan",
        scan_id,
        worker_id,
        STALE_AFTER_S,
        _is_dead_local(owner),
        owner,
    )
    if row is None:
        return None
    return Claim(scan_id, row["library_id"], row["full_rescan"])


async def heartbeat(conn: asyncpg.Connection, worker_id: str, scan_ids: list[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE library_scans SET heartbeat_at = now() "
        "WHERE id = ANY($1::uuid[]) AND worker_id = $2 AND status = 'running'",
        scan_ids,
        worker_id,
    )


async def requeue_scans(
    conn: asyncpg.Connection, worker_id: str, scan_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    """Hand unfinished scans back to the queue (a clean stop); returns the updated rows."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "UPDATE library_scans SET status = 'queued', worker_id = NULL, heartbeat_at = NULL, "
        "current_path = NULL WHERE id = ANY($1::uuid[]) AND worker_id = $2 "
        "AND status = 'running' RETURNING *",
        scan_ids,
        worker_id,
    )
    if rows:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(rows[0]["id"]))
    return rows
