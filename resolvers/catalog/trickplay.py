"""Trickplay storage and generation: where sheets live, what exists, and making them.

Sheets live in ``<data dir>/trickplay/<file_id>/`` (written by ``media.trickplay``, which swaps a
whole folder in at once); the ``trickplay`` row says they exist and what they were made from.
The row is written only after the folder is in place, so a row always has sheets behind it; a
folder without a row (a crash between the two) is simply overwritten by the next run.

``generate_trickplay`` is background work meant to be wrapped by a job-queue task: narrow
arguments, idempotent (a fresh set for the same source and options is left alone), and bounded
process-wide by one worker thread, so a backfill over a whole library never takes more than one
core away from playback.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import asyncpg

from media.trickplay import TrickplayResult, make_trickplay

__all__ = [
    "TrickplayInfo",
    "TrickplayOptions",
    "files_missing_trickplay",
    "generate_trickplay",
    "trickplay_dir",
    "trickplay_info",
]

# One generation at a time in this process: it is background work competing with playback.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trickplay")


@dataclass(frozen=True, slots=True)
class TrickplayOptions:
    """How sheets are made; a change of any of these regenerates existing sets."""

    interval_seconds: float = 10.0
    columns: int = 10
    rows: int = 10
    width: int = 320


@dataclass(frozen=True, slots=True)
class TrickplayInfo:
    """A file's trickplay set: tile size in pixels, grid, and how many sheets/thumbnails."""

    file_id: uuid.UUID
    interval_ms: int
    width: int
    height: int
    columns: int
    rows: int
    sheet_count: int
    thumbnail_count: int
    source_size: int
    source_mtime_ns: int


_COLUMNS = (
    "file_id, interval_ms, width, height, columns, rows, sheet_count, thumbnail_count, "
    "source_size, source_mtime_ns"
)


def trickplay_dir(data_dir: str | os.PathLike[str], file_id: uuid.UUID) -> Path:
    """``<data dir>/trickplay/<file_id>`` — named by id only, never by anything a client sent."""
    return Path(data_dir) / "trickplay" / str(file_id)


def _info(row: asyncpg.Record) -> TrickplayInfo:
    return TrickplayInfo(**dict(row))


async def trickplay_info(pool: asyncpg.Pool, file_id: uuid.UUID) -> TrickplayInfo | None:
    """The file's set as recorded, or None when none was made yet."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM trickplay WHERE file_id = $1", file_id)
    return None if row is None else _info(row)


async def files_missing_trickplay(
    pool: asyncpg.Pool, library_id: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Present files with a real video stream (not cover art) and no trickplay row, oldest
    first — the backfill job's next batch. Files that failed probing are skipped."""
    rows = await pool.fetch(
        "SELECT f.id FROM media_files f "
        "WHERE NOT f.is_missing AND f.probe_error IS NULL "
        "AND ($1::uuid IS NULL OR f.library_id = $1) "
        "AND EXISTS (SELECT 1 FROM media_streams s WHERE s.file_id = f.id "
        "AND s.type = 'video' AND NOT s.is_external) "
        "AND NOT EXISTS (SELECT 1 FROM trickplay t WHERE t.file_id = f.id) "
        "ORDER BY f.id LIMIT $2",
        library_id,
        limit,
    )
    return [row["id"] for row in rows]


def _is_current(
    info: TrickplayInfo, options: TrickplayOptions, stat: os.stat_result, folder: Path
) -> bool:
    return (
        info.source_size == stat.st_size
        and info.source_mtime_ns == stat.st_mtime_ns
        and info.interval_ms == round(options.interval_seconds * 1000)
        and info.width == options.width
        and info.columns == options.columns
        and info.rows == options.rows
        and (folder / "index.vtt").is_file()
    )


async def generate_trickplay(
    pool: asyncpg.Pool,
    data_dir: str | os.PathLike[str],
    file_id: uuid.UUID,
    *,
    options: TrickplayOptions | None = None,
    force: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> TrickplayInfo | None:
    """Make (or keep) the file's trickplay set and record it.

    None when the file is unknown, marked missing, or gone from disk. A set made from the same
    size/mtime with the same options is returned as it is unless ``force``. Engine failures
    (``media.trickplay.NoVideoStream``, ``TrickplayError``) propagate for the job to record;
    cancelling the awaiting task stops the worker at its next packet, with nothing published.
    """
    options = options or TrickplayOptions()
    row = await pool.fetchrow("SELECT raw_path, is_missing FROM media_files WHERE id = $1", file_id)
    if row is None or row["is_missing"]:
        return None
    path = os.fsdecode(bytes(row["raw_path"]))
    try:
        stat = await asyncio.to_thread(os.stat, path)
    except (OSError, ValueError):
        return None
    folder = trickplay_dir(data_dir, file_id)
    existing = await trickplay_info(pool, file_id)
    if (
        not force
        and existing is not None
        and await asyncio.to_thread(_is_current, existing, options, stat, folder)
    ):
        return existing
    result = await _run(path, str(folder), options, should_stop)
    row = await pool.fetchrow(
        "INSERT INTO trickplay (file_id, interval_ms, width, height, columns, rows, "
        "sheet_count, thumbnail_count, source_size, source_mtime_ns) "
        "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 "
        "WHERE EXISTS (SELECT 1 FROM media_files WHERE id = $1) "
        "ON CONFLICT (file_id) DO UPDATE SET interval_ms = EXCLUDED.interval_ms, "
        "width = EXCLUDED.width, height = EXCLUDED.height, columns = EXCLUDED.columns, "
        "rows = EXCLUDED.rows, sheet_count = EXCLUDED.sheet_count, "
        "thumbnail_count = EXCLUDED.thumbnail_count, source_size = EXCLUDED.source_size, "
        f"source_mtime_ns = EXCLUDED.source_mtime_ns RETURNING {_COLUMNS}",
        file_id,
        result.interval_ms,
        result.width,
        result.height,
        result.columns,
        result.rows,
        result.sheet_count,
        result.thumbnail_count,
        stat.st_size,
        stat.st_mtime_ns,
    )
    if row is None:  # the file's row went away meanwhile: no orphan folder either
        await asyncio.to_thread(shutil.rmtree, folder, True)
        return None
    return _info(row)


async def _run(
    path: str, folder: str, options: TrickplayOptions, should_stop: Callable[[], bool] | None
) -> TrickplayResult:
    """``make_trickplay`` on the bounded worker; a cancelled caller stops it too."""
    cancelled = threading.Event()

    def stop() -> bool:
        return cancelled.is_set() or (should_stop is not None and should_stop())

    work = partial(
        make_trickplay,
        path,
        folder,
        interval_seconds=options.interval_seconds,
        columns=options.columns,
        rows=options.rows,
        width=options.width,
        should_stop=stop,
    )
    try:
        return await asyncio.get_running_loop().run_in_executor(_WORKER, work)
    except asyncio.CancelledError:
        cancelled.set()
        raise
