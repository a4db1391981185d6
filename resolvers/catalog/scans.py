"""Library scans as the API reads them: one row, a library's latest, and a live follow.

The scan service (``services["scans"]``) writes ``library_scans`` and publishes each change on
the bus topic ``library_scan:{library_id}`` as a dict of the row's columns plus ``id``.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import asyncpg

from infra.bus import EventBus, subscription

__all__ = [
    "FINISHED_SCAN_STATUSES",
    "fetch_latest_scan",
    "fetch_scan",
    "scan_from_event",
    "scan_topic",
    "watch_library_scan",
]

FINISHED_SCAN_STATUSES = frozenset({"completed", "failed", "interrupted"})

_SCAN_COLUMNS: dict[str, Any] = {
    "id": None,
    "library_id": None,
    "status": "queued",
    "files_seen": 0,
    "files_new": 0,
    "files_changed": 0,
    "files_moved": 0,
    "files_removed": 0,
    "files_failed": 0,
    "current_path": None,
    "error": None,
    "started_at": None,
    "finished_at": None,
    "created_at": None,
    "updated_at": None,
}
_UUID_COLUMNS = ("id", "library_id")
_TIME_COLUMNS = ("started_at", "finished_at", "created_at", "updated_at")


def scan_topic(library_id: uuid.UUID) -> str:
    return f"library_scan:{library_id}"


async def fetch_scan(pool: asyncpg.Pool, scan_id: uuid.UUID) -> Any:
    """The ``library_scans`` row, or None."""
    return await pool.fetchrow("SELECT * FROM library_scans WHERE id = $1", scan_id)


async def fetch_latest_scan(pool: asyncpg.Pool, library_id: uuid.UUID) -> Any:
    """The library's most recent scan row (active or not), or None."""
    return await pool.fetchrow(
        "SELECT * FROM library_scans WHERE library_id = $1 ORDER BY created_at DESC, id DESC "
        "LIMIT 1",
        library_id,
    )


def scan_from_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A bus event (JSON-able: ids and times may be strings) as a row-shaped dict."""
    scan = {column: event.get(column, default) for column, default in _SCAN_COLUMNS.items()}
    for column in _UUID_COLUMNS:
        if isinstance(scan[column], str):
            scan[column] = uuid.UUID(scan[column])
    for column in _TIME_COLUMNS:
        if isinstance(scan[column], str):
            scan[column] = datetime.datetime.fromisoformat(scan[column])
    return scan


async def watch_library_scan(
    pool: asyncpg.Pool, bus: EventBus, library_id: uuid.UUID
) -> AsyncGenerator[Mapping[str, Any], None]:
    """The library's current scan row (if any), then each published change of its scans,
    ending after a change whose status is finished.

    The bus subscription is open before the current row is read, so no change published in
    between is lost.
    """
    async with subscription(bus, scan_topic(library_id)) as events:
        current = await fetch_latest_scan(pool, library_id)
        if current is not None:
            yield current
        async for event in events:
            scan = scan_from_event(event)
            yield scan
            if scan["status"] in FINISHED_SCAN_STATUSES:
                return
