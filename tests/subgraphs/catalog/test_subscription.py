from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from infra.bus import InProcessBus
from subgraphs.catalog.schema import schema
from tests.subgraphs.catalog.conftest import make_context
from tests.support.catalog_rows import insert_library, insert_scan

SUBSCRIPTION = """subscription($id: ID!) {
  libraryScan(libraryId: $id) { id status filesSeen filesNew currentPath done finishedAt }
}"""


async def test_library_scan_streams_current_row_then_events(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library_id = await insert_library(pool)
    scan_id = await insert_scan(pool, library_id, "queued")
    bus = InProcessBus()
    topic = f"library_scan:{library_id}"
    stream = await schema.subscribe(
        SUBSCRIPTION,
        variable_values={"id": str(library_id)},
        context_value=make_context(pool, tmp_path, bus=bus),
    )

    first = await anext(stream)
    assert bus.subscriber_count(topic) == 1
    base = {"id": str(scan_id), "library_id": str(library_id), "files_new": 0}
    await bus.publish(
        topic, {**base, "status": "running", "files_seen": 1, "current_path": "/m/a.mkv"}
    )
    await bus.publish(
        topic,
        {
            **base,
            "status": "completed",
            "files_seen": 2,
            "finished_at": "2026-11-01T12:00:00+00:00",
        },
    )
    await bus.publish(topic, {**base, "status": "running", "files_seen": 99})
    rest = [result async for result in stream]

    assert first.errors is None
    assert first.data == {
        "libraryScan": {
            "id": str(scan_id),
            "status": "QUEUED",
            "filesSeen": 0,
            "filesNew": 0,
            "currentPath": None,
            "done": False,
            "finishedAt": None,
        }
    }
    assert [r.errors for r in rest] == [None, None]
    assert [r.data["libraryScan"] for r in rest] == [
        {
            "id": str(scan_id),
            "status": "RUNNING",
            "filesSeen": 1,
            "filesNew": 0,
            "currentPath": "/m/a.mkv",
            "done": False,
            "finishedAt": None,
        },
        {
            "id": str(scan_id),
            "status": "COMPLETED",
            "filesSeen": 2,
            "filesNew": 0,
            "currentPath": None,
            "done": True,
            "finishedAt": "2026-11-01T12:00:00+00:00",
        },
    ]
    assert bus.subscriber_count(topic) == 0


async def test_library_scan_without_a_scan_starts_with_the_first_event(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    library_id = await insert_library(pool)
    bus = InProcessBus()
    topic = f"library_scan:{library_id}"
    stream = await schema.subscribe(
        SUBSCRIPTION,
        variable_values={"id": str(library_id)},
        context_value=make_context(pool, tmp_path, bus=bus),
    )
    first = asyncio.ensure_future(anext(stream))
    while bus.subscriber_count(topic) == 0:  # noqa: ASYNC110 - the bus offers no event to wait on
        await asyncio.sleep(0.001)

    await bus.publish(
        topic, {"id": str(uuid.uuid4()), "library_id": str(library_id), "status": "interrupted"}
    )

    result = await asyncio.wait_for(first, 5)
    assert result.data["libraryScan"]["status"] == "INTERRUPTED"
    assert result.data["libraryScan"]["done"] is True
    assert [r async for r in stream] == []


async def test_library_scan_bad_and_unknown_ids(pool: asyncpg.Pool, tmp_path: Path) -> None:
    codes = []
    for library_id in ("not-a-uuid", str(uuid.uuid4())):
        stream = await schema.subscribe(
            SUBSCRIPTION,
            variable_values={"id": library_id},
            context_value=make_context(pool, tmp_path),
        )
        results = [r async for r in stream] if hasattr(stream, "__aiter__") else [stream]
        codes.append([(e.extensions or {}).get("code") for r in results for e in r.errors or []])

    assert codes == [["BAD_USER_INPUT"], ["NOT_FOUND"]]
