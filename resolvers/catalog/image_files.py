"""Where an image the catalog knows lives on disk, for the REST image route."""

from __future__ import annotations

import os
import uuid

import asyncpg

__all__ = ["image_file_path"]


async def image_file_path(pool: asyncpg.Pool, image_id: uuid.UUID) -> str | None:
    """The file of a catalog image, or None; a path from a client never reaches the disk."""
    raw = await pool.fetchval("SELECT raw_path FROM media_images WHERE id = $1", image_id)
    return None if raw is None else os.fsdecode(bytes(raw))
