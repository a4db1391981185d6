"""What the stream route may send: a catalog file the principal can see, and who a signed URL
speaks for.

A path from a client never reaches the disk: the route hands over a file id, and the path comes
from ``media_files.raw_path`` (the exact bytes on disk) only when the file's item passes the
same visibility conditions every catalog read uses — a hidden file answers None, exactly like
an unknown one.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from loaders.visibility import visibility_conditions

__all__ = ["StreamFile", "stream_file"]


@dataclass(frozen=True, slots=True)
class StreamFile:
    id: uuid.UUID
    item_id: uuid.UUID
    path: str
    size: int
    container: str | None


async def stream_file(
    pool: asyncpg.Pool, file_id: uuid.UUID, visibility: VisibilityFilter
) -> StreamFile | None:
    """The file to stream, or None when it is unknown, marked missing, or not visible."""
    if visibility.nothing_visible:
        return None
    params: list[Any] = [file_id]

    def add(value: Any, sql_type: str) -> str:
        params.append(value)
        return f"${len(params)}::{sql_type}"

    conditions = ["f.id = $1", "NOT f.is_missing", *visibility_conditions(visibility, add)]
    row = await pool.fetchrow(
        "SELECT f.item_id, f.raw_path, f.size, f.container FROM media_files f "
        "JOIN media_items i ON i.id = f.item_id WHERE " + " AND ".join(conditions),
        *params,
    )
    if row is None:
        return None
    return StreamFile(
        id=file_id,
        item_id=row["item_id"],
        path=os.fsdecode(bytes(row["raw_path"])),
        size=row["size"],
        container=row["container"],
    )
