"""Trickplay storage against real PostgreSQL and real files: generate once, keep while the source is
unchanged, regenerate when it or the options change, and list what the backfill still has to do."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from media.trickplay import NoVideoStream, TrickplayCancelled, TrickplayResult, make_trickplay
from resolvers.catalog import trickplay
from resolvers.catalog.trickplay import (
    TrickplayInfo,
    TrickplayOptions,
    files_missing_trickplay,
    generate_trickplay,
    trickplay_dir,
    trickplay_info,
)
from tests.support.catalog_rows import insert_file, insert_item, insert_library, insert_stream
from tests.support.media_files import make_audio, make_video


async def add_file(
    pool: asyncpg.Pool, library: uuid.UUID, path: Path, *, stream_type: str = "video"
) -> uuid.UUID:
    item = await insert_item(pool, library, path.stem)
    file_id = await insert_file(pool, item, library, str(path))
    await insert_stream(pool, file_id, 0, stream_type)
    return file_id


@pytest.fixture
async def library(pool: asyncpg.Pool, tmp_path: Path) -> uuid.UUID:
    (tmp_path / "media").mkdir()
    return await insert_library(pool, root_paths=[str(tmp_path / "media")])


async def test_generate_records_the_set_and_keeps_it_while_unchanged(
    pool: asyncpg.Pool, library: uuid.UUID, tmp_path: Path
) -> None:
    source = make_video(tmp_path / "media" / "Heat.mkv", seconds=12, fps=25)
    file_id = await add_file(pool, library, source)
    data = tmp_path / "data"
    stat = source.stat()

    made = await generate_trickplay(pool, data, file_id)

    expected = TrickplayInfo(
        file_id, 10_000, 320, 240, 10, 10, 1, 2, stat.st_size, stat.st_mtime_ns
    )
    assert made == expected
    assert await trickplay_info(pool, file_id) == expected
    folder = trickplay_dir(data, file_id)
    assert folder == data / "trickplay" / str(file_id)
    assert sorted(os.listdir(folder)) == ["index.vtt", "sheet_000.jpg"]
    first_inode = folder.stat().st_ino

    again = await generate_trickplay(pool, data, file_id)

    assert again == expected
    assert folder.stat().st_ino == first_inode  # left alone: same folder, nothing rewritten


async def test_a_changed_source_or_options_regenerate(
    pool: asyncpg.Pool, library: uuid.UUID, tmp_path: Path
) -> None:
    source = make_video(tmp_path / "media" / "Heat.mkv", seconds=12, fps=25)
    file_id = await add_file(pool, library, source)
    data = tmp_path / "data"
    await generate_trickplay(pool, data, file_id)
    created_at = await pool.fetchval("SELECT created_at FROM trickplay")

    make_video(source, seconds=22, fps=25)  # re-encoded in place: new size and mtime
    longer = await generate_trickplay(pool, data, file_id)
    narrower = await generate_trickplay(
        pool, data, file_id, options=TrickplayOptions(interval_seconds=5, width=160)
    )

    assert longer is not None and narrower is not None
    assert (longer.thumbnail_count, longer.source_size) == (3, source.stat().st_size)
    assert (narrower.interval_ms, narrower.width, narrower.height) == (5_000, 160, 120)
    assert narrower.thumbnail_count == 5
    row = await pool.fetchrow("SELECT created_at, updated_at FROM trickplay")
    assert row["created_at"] == created_at
    assert row["updated_at"] > created_at  # the touch trigger ran
    index = (trickplay_dir(data, file_id) / "index.vtt").read_text()
    assert index.count(" --> ") == 5


async def test_unknown_missing_and_vanished_files_answer_none(
    pool: asyncpg.Pool, library: uuid.UUID, tmp_path: Path
) -> None:
    gone = await add_file(pool, library, tmp_path / "media" / "Gone.mkv")
    flagged = await add_file(
        pool, library, make_video(tmp_path / "media" / "Flagged.mkv", seconds=1)
    )
    await pool.execute("UPDATE media_files SET is_missing = true WHERE id = $1", flagged)
    data = tmp_path / "data"

    assert await generate_trickplay(pool, data, uuid.uuid4()) is None
    assert await generate_trickplay(pool, data, gone) is None
    assert await generate_trickplay(pool, data, flagged) is None
    assert await trickplay_info(pool, gone) is None
    assert not data.exists()


async def test_engine_failures_propagate_and_record_nothing(
    pool: asyncpg.Pool, library: uuid.UUID, tmp_path: Path
) -> None:
    song = await add_file(pool, library, make_audio(tmp_path / "media" / "song.flac"))

    with pytest.raises(NoVideoStream):
        await generate_trickplay(pool, tmp_path / "data", song)

    assert await trickplay_info(pool, song) is None
    assert os.listdir(tmp_path / "data" / "trickplay") == []


async def test_generations_run_one_at_a_time(
    pool: asyncpg.Pool, library: uuid.UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def counting(*args: Any, **kwargs: Any) -> TrickplayResult:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)
            return make_trickplay(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(trickplay, "make_trickplay", counting)
    files = [
        await add_file(pool, library, make_video(tmp_path / "media" / f"{n}.mkv", seconds=2))
        for n in range(3)
    ]

    made = await asyncio.gather(*(generate_trickplay(pool, tmp_path / "d", f) for f in files))

    assert [info.file_id for info in made if info is not None] == files
    assert most == 1
    assert await pool.fetchval("SELECT count(*) FROM trickplay") == 3


async def test_deleting_the_file_row_deletes_the_trickplay_row(
    pool: asyncpg.Pool, library: uuid.UUID, tmp_path: Path
) -> None:
    source = make_video(tmp_path / "media" / "Heat.mkv", seconds=1)
    file_id = await add_file(pool, library, source)
    await generate_trickplay(pool, tmp_path / "data", file_id)

    await pool.execute("DELETE FROM media_files WHERE id = $1", file_id)

    assert await trickplay_info(pool, file_id) is None


async def test_files_missing_trickplay_lists_present_video_files_without_a_set(
    pool: asyncpg.Pool, library: uuid.UUID, tmp_path: Path
) -> None:
    other_library = await insert_library(pool, name="Shows", root_paths=["/media/shows"])
    media = tmp_path / "media"
    done = await add_file(pool, library, make_video(media / "Done.mkv", seconds=1))
    await generate_trickplay(pool, tmp_path / "data", done)
    waiting = await add_file(pool, library, media / "Waiting.mkv")
    later = await add_file(pool, library, media / "Later.mkv")
    song = await add_file(pool, library, media / "Song.flac", stream_type="audio")
    missing = await add_file(pool, library, media / "Missing.mkv")
    await pool.execute("UPDATE media_files SET is_missing = true WHERE id = $1", missing)
    broken = await add_file(pool, library, media / "Broken.mkv")
    await pool.execute("UPDATE media_files SET probe_error = 'corrupt' WHERE id = $1", broken)
    elsewhere = await add_file(pool, other_library, Path("/media/shows/Pilot.mkv"))
    assert song not in (waiting, later)

    expected = sorted([waiting, later])  # by id: uuid v7, so oldest first
    assert await files_missing_trickplay(pool, library, 10) == expected
    assert await files_missing_trickplay(pool, library, 1) == expected[:1]
    everywhere = await files_missing_trickplay(pool, None, 10)
    assert everywhere == sorted([waiting, later, elsewhere])


async def test_cancelling_the_caller_stops_the_worker(
    pool: asyncpg.Pool, library: uuid.UUID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_id = await add_file(pool, library, make_video(tmp_path / "media" / "Heat.mkv"))
    started, stopped = threading.Event(), threading.Event()

    def until_stopped(*args: Any, should_stop: Any, **kwargs: Any) -> TrickplayResult:
        started.set()
        deadline = time.monotonic() + 10
        while not should_stop():
            assert time.monotonic() < deadline, "the worker was never told to stop"
            time.sleep(0.01)
        stopped.set()
        raise TrickplayCancelled("stopped on request")

    monkeypatch.setattr(trickplay, "make_trickplay", until_stopped)
    task = asyncio.create_task(generate_trickplay(pool, tmp_path / "data", file_id))
    await asyncio.to_thread(started.wait, 10)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(stopped.wait, 10)
    assert await trickplay_info(pool, file_id) is None
