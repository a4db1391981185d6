"""Libraries: listing, creating, renaming, re-rooting and deleting them.

Expected failures (a taken name, a root path that is not a readable directory …) raise
``LibraryProblem`` with a stable code that the subgraph returns as a ``LibraryError``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.names import is_display_name
from loaders.visibility import EVERYTHING, library_condition, visibility_conditions

__all__ = [
    "LIBRARY_KINDS",
    "MAX_NAME_LENGTH",
    "LibraryProblem",
    "create_library",
    "delete_library",
    "list_genres",
    "list_libraries",
    "normalize_root_paths",
    "update_library",
]

LIBRARY_KINDS = ("movies", "tv", "music")
MAX_NAME_LENGTH = 200


class LibraryProblem(Exception):
    """An expected failure of a library mutation; ``code`` is a ``LibraryErrorCode`` name."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or not is_display_name(name):
        raise LibraryProblem(
            "INVALID_NAME",
            f"a library name has 1 to {MAX_NAME_LENGTH} printable characters",
            "name",
        )
    return cleaned


def _check_paths(paths: Sequence[str]) -> list[str]:
    normalized: list[str] = []
    for raw in paths:
        if not raw.strip() or "\x00" in raw:
            raise LibraryProblem("PATH_NOT_FOUND", f"{raw!r} is not a path", "rootPaths")
        path = os.path.abspath(os.path.normpath(os.path.expanduser(raw.strip())))
        if not os.path.exists(path):
            raise LibraryProblem("PATH_NOT_FOUND", f"{path} does not exist", "rootPaths")
        if not os.path.isdir(path):
            raise LibraryProblem("PATH_NOT_DIRECTORY", f"{path} is not a directory", "rootPaths")
        if not os.access(path, os.R_OK | os.X_OK):
            raise LibraryProblem("PATH_NOT_READABLE", f"{path} is not readable", "rootPaths")
        if path not in normalized:
            normalized.append(path)
    return normalized


async def normalize_root_paths(paths: Sequence[str]) -> list[str]:
    """Absolute, normalized, de-duplicated directories this process can read."""
    if not paths:
        raise LibraryProblem("NO_PATHS", "a library needs at least one root path", "rootPaths")
    # Touching the filesystem may block (network mounts): keep it off the event loop.
    return await asyncio.to_thread(_check_paths, list(paths))


def _name_taken(name: str) -> LibraryProblem:
    return LibraryProblem("NAME_TAKEN", f"a library named {name!r} already exists", "name")


async def list_libraries(
    pool: asyncpg.Pool, visibility: VisibilityFilter = EVERYTHING
) -> list[Any]:
    params: list[Any] = []

    def add(value: Any, sql_type: str) -> str:
        params.append(value)
        return f"${len(params)}::{sql_type}"

    where = " AND ".join(library_condition(visibility, add, "l.id")) or "true"
    rows: list[Any] = await pool.fetch(
        f"SELECT * FROM libraries AS l WHERE {where} ORDER BY lower(l.name), l.id", *params
    )
    return rows


async def create_library(
    pool: asyncpg.Pool, name: str, kind: str, root_paths: Sequence[str]
) -> Any:
    """Insert a library and return its row."""
    cleaned = _clean_name(name)
    if kind not in LIBRARY_KINDS:
        raise LibraryProblem("INVALID_KIND", f"unknown library kind {kind!r}", "kind")
    paths = await normalize_root_paths(root_paths)
    try:
        return await pool.fetchrow(
            "INSERT INTO libraries (name, kind, root_paths) VALUES ($1, $2, $3::text[]) "
            "RETURNING *",
            cleaned,
            kind,
            paths,
        )
    except asyncpg.UniqueViolationError:
        raise _name_taken(cleaned) from None


async def update_library(
    pool: asyncpg.Pool,
    library_id: uuid.UUID,
    *,
    name: str | None = None,
    root_paths: Sequence[str] | None = None,
) -> Any:
    """Rename and/or re-root a library; None leaves a value as it is."""
    cleaned = _clean_name(name) if name is not None else None
    paths = await normalize_root_paths(root_paths) if root_paths is not None else None
    try:
        row = await pool.fetchrow(
            "UPDATE libraries SET name = coalesce($2, name), "
            "root_paths = coalesce($3::text[], root_paths) WHERE id = $1 RETURNING *",
            library_id,
            cleaned,
            paths,
        )
    except asyncpg.UniqueViolationError:
        raise _name_taken(cleaned or "") from None
    if row is None:
        raise LibraryProblem("NOT_FOUND", "no library has this id", "id")
    return row


async def delete_library(pool: asyncpg.Pool, library_id: uuid.UUID) -> None:
    """Delete a library with its items, files and scans (the foreign keys cascade)."""
    deleted = await pool.fetchval("DELETE FROM libraries WHERE id = $1 RETURNING id", library_id)
    if deleted is None:
        raise LibraryProblem("NOT_FOUND", "no library has this id", "id")


async def list_genres(
    pool: asyncpg.Pool,
    library_id: uuid.UUID | None = None,
    visibility: VisibilityFilter = EVERYTHING,
) -> list[Any]:
    """Genres of at least one visible item (of one library when given), by name."""
    params: list[Any] = [library_id]

    def add(value: Any, sql_type: str) -> str:
        params.append(value)
        return f"${len(params)}::{sql_type}"

    visible = "".join(f" AND {c}" for c in visibility_conditions(visibility, add))
    rows: list[Any] = await pool.fetch(
        "SELECT g.* FROM genres AS g WHERE EXISTS ("
        " SELECT 1 FROM media_item_genres AS ig JOIN media_items AS i ON i.id = ig.item_id"
        " WHERE ig.genre_id = g.id AND ($1::uuid IS NULL OR i.library_id = $1)"
        f" AND i.extra_type IS NULL AND NOT i.is_missing{visible})"
        " ORDER BY lower(g.name), g.id",
        *params,
    )
    return rows
