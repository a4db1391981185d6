"""A scan's visible status in ``library_scans``: queued, taken by a worker, handed back.

The job queue (procrastinate, see ``scan_jobs``) decides which worker runs a scan and when;
this row is what the API and the CLI read. ``library_scans_one_active`` keeps one queued or
running scan per library, whichever process asked for it.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

import asyncpg

__all__ = [
    "Claim",
    "claim_scan",
    "enqueue_scan",
    "interrupt_scan",
    "new_worker_id",
    "requeue_scan",
]

_HOST = socket.gethostname()


def new_worker_id(suffix: str | None = None) -> str:
    """How a scan names the process running it: host, pid, and the job worker."""
    return f"{_HOST}:{os.getpid()}:{suffix or uuid.uuid4().hex[:8]}"


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
            return scan_id, True
        active: uuid.UUID = await conn.fetchval(
            "SELECT id FROM library_scans WHERE library_id = $1 "
            "AND status IN ('queued', 'running')",
            library_id,
        )
        return active, False


async def claim_scan(conn: asyncpg.Connection, scan_id: uuid.UUID, worker_id: str) -> Claim | None:
    """Mark the scan as run by ``worker_id``; None when it is no longer active (finished,
    deleted). The job queue runs one job per library at a time, so a running scan claimed
    again is one whose worker died or handed it back."""
    row = await conn.fetchrow(
        "UPDATE library_scans SET status = 'running', worker_id = $2, heartbeat_at = now(), "
        "started_at = coalesce(started_at, now()), finished_at = NULL, error = NULL "
        "WHERE id = $1 AND status IN ('queued', 'running') "
        "RETURNING library_id, full_rescan",
        scan_id,
        worker_id,
    )
    if row is None:
        return None
    return Claim(scan_id, row["library_id"], row["full_rescan"])


async def requeue_scan(
    conn: asyncpg.Connection, scan_id: uuid.UUID, worker_id: str
) -> asyncpg.Record | None:
    """Hand an unfinished scan back to the queue (its worker is stopping); the updated row."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE library_scans SET status = 'queued', worker_id = NULL, heartbeat_at = NULL, "
        "current_path = NULL WHERE id = $1 AND worker_id = $2 AND status = 'running' "
        "RETURNING *",
        scan_id,
        worker_id,
    )
    return row


async def interrupt_scan(conn: asyncpg.Connection, scan_id: uuid.UUID) -> asyncpg.Record | None:
    """End an active scan as interrupted (its job was cancelled); the updated row."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE library_scans SET status = 'interrupted', finished_at = now(), "
        "current_path = NULL, worker_id = NULL, heartbeat_at = NULL "
        "WHERE id = $1 AND status IN ('queued', 'running') RETURNING *",
        scan_id,
    )
    return row
