from __future__ import annotations

import asyncio
import datetime
import uuid

import asyncpg

from infra.bus import InProcessBus
from resolvers.catalog.scans import (
    fetch_latest_scan,
    fetch_scan,
    scan_from_event,
    scan_topic,
    watch_library_scan,
)
from tests.support.catalog_rows import insert_library, insert_scan


async def test_fetch_scan_and_latest(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    old = await insert_scan(
        pool,
        library_id,
        "completed",
        created_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    new = await insert_scan(pool, library_id, "running", files_seen=3)

    assert (await fetch_scan(pool, old))["status"] == "completed"
    assert (await fetch_latest_scan(pool, library_id))["id"] == new
    assert await fetch_scan(pool, uuid.uuid4()) is None
    assert await fetch_latest_scan(pool, uuid.uuid4()) is None


def test_scan_from_event_reads_json_values() -> None:
    scan_id, library_id = uuid.uuid4(), uuid.uuid4()

    scan = scan_from_event(
        {
            "id": str(scan_id),
            "library_id": str(library_id),
            "status": "running",
            "files_seen": 4,
            "started_at": "2026-11-01T12:00:00+00:00",
        }
    )

    assert scan["id"] == scan_id
    assert scan["library_id"] == library_id
    assert scan["files_seen"] == 4
    assert scan["files_new"] == 0
    assert scan["started_at"] == datetime.datetime(2026, 11, 1, 12, tzinfo=datetime.UTC)
    assert scan["finished_at"] is None


async def test_watch_yields_current_row_then_events_until_finished(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    scan_id = await insert_scan(pool, library_id, "queued")
    bus = InProcessBus()
    seen: list[tuple[str, int]] = []

    async def follow() -> None:
        async for scan in watch_library_scan(pool, bus, library_id):
            seen.append((scan["status"], scan["files_seen"]))

    task = asyncio.create_task(follow())
    while bus.subscriber_count(scan_topic(library_id)) == 0:  # noqa: ASYNC110 - the bus offers no event to wait on
        await asyncio.sleep(0.001)
    base = {"id": str(scan_id), "library_id": str(library_id)}
    for status, files_seen in [("running", 1), ("running", 2), ("completed", 2), ("running", 9)]:
        await bus.publish(
            scan_topic(library_id), {**base, "status": status, "files_seen": files_seen}
        )
    await asyncio.wait_for(task, 5)

    assert seen == [("queued", 0), ("running", 1), ("running", 2), ("completed", 2)]
    assert bus.subscriber_count(scan_topic(library_id)) == 0


async def test_watch_without_a_scan_waits_for_the_first_event(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    bus = InProcessBus()
    scans = watch_library_scan(pool, bus, library_id)

    first = asyncio.ensure_future(anext(scans))
    while bus.subscriber_count(scan_topic(library_id)) == 0:  # noqa: ASYNC110 - the bus offers no event to wait on
        await asyncio.sleep(0.001)
    await bus.publish(
        scan_topic(library_id),
        {
            "id": str(uuid.uuid4()),
            "library_id": str(library_id),
            "status": "failed",
            "error": "disk gone",
        },
    )

    scan = await asyncio.wait_for(first, 5)
    assert (scan["status"], scan["error"]) == ("failed", "disk gone")
    assert [s async for s in scans] == []


async def test_closing_a_watch_early_unsubscribes(pool: asyncpg.Pool) -> None:
    library_id = await insert_library(pool)
    await insert_scan(pool, library_id, "running")
    bus = InProcessBus()
    scans = watch_library_scan(pool, bus, library_id)

    assert (await anext(scans))["status"] == "running"
    assert bus.subscriber_count(scan_topic(library_id)) == 1
    await scans.aclose()

    assert bus.subscriber_count(scan_topic(library_id)) == 0
