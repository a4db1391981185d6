"""Libraries: listing, creating, renaming, re-rooting and deleting them.

Expected failures (a taken name, a root path that is not a readable directory …) raise
``LibraryProblem`` with a stable code that the subgraph returns as a ``LibraryError``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.names import is_display_name
from loaders.visibility import EVERYTHING, library_condition, visibility_conditions

if TYPE_CHECKING:
    from resolvers.catalog.scan_service import ScanService

__all__ = [
    "LIBRARY_KINDS",
    "MAX_NAME_LENGTH",
    "LibraryProblem",
    "create_library",
    "delete_library",
    "is_system_folder",
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


# Folders whose files are the system's, never media: scanning one imports whatever the system
# and other users keep there. A tree refuses itself and everything below; a folder only itself.
_SYSTEM_TREES = (
    "/proc", "/sys", "/dev", "/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
    "/libx32", "/usr", "/run", "/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/run",
)  # fmt: skip
_SYSTEM_FOLDERS = frozenset({"/", "/tmp", "/var", "/var/tmp"})
# Below /usr only /usr/local's own folders may hold media (/usr/local/media, not /usr/local/lib).
_USR_LOCAL_SOFTWARE = frozenset(
    {"bin", "etc", "games", "include", "lib", "lib32", "lib64", "libexec", "man", "sbin", "share",
     "src"}
)  # fmt: skip


def is_system_folder(path: str) -> bool:
    """Whether an absolute, normalized path is a system folder or lies in a system tree."""
    if path in _SYSTEM_FOLDERS:
        return True
    parts = path.split("/")
    if len(parts) > 3 and parts[1:3] == ["usr", "local"]:
        return parts[3] in _USR_LOCAL_SOFTWARE
    return any(path == tree or path.startswith(tree + "/") for tree in _SYSTEM_TREES)


def _within(path: str, folders: Sequence[str]) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") for folder in folders)


def _check_paths(paths: Sequence[str], reserved: Sequence[str]) -> list[str]:
    own = [os.path.realpath(folder) for folder in reserved if folder]
    normalized: list[str] = []
    for raw in paths:
        if not raw.strip() or "\x00" in raw:
            raise LibraryProblem("PATH_NOT_FOUND", f"{raw!r} is not a path", "rootPaths")
        if not os.path.isabs(raw.strip()):
            # Relative to what? The server's working directory is no answer an admin can see.
            raise LibraryProblem(
                "PATH_NOT_ABSOLUTE", f"{raw.strip()!r} is not an absolute path", "rootPaths"
            )
        path = os.path.normpath(raw.strip())
        if path.startswith("//"):  # POSIX keeps a leading double slash; it is the root here
            path = "/" + path.lstrip("/")
        if not os.path.exists(path):
            raise LibraryProblem("PATH_NOT_FOUND", f"{path} does not exist", "rootPaths")
        if not os.path.isdir(path):
            raise LibraryProblem("PATH_NOT_DIRECTORY", f"{path} is not a directory", "rootPaths")
        real = os.path.realpath(path)
        if is_system_folder(path) or is_system_folder(real):
            raise LibraryProblem(
                "PATH_NOT_ALLOWED",
                f"{path} is a system folder; choose a folder that holds media",
                "rootPaths",
            )
        if _within(real, own):
            raise LibraryProblem(
                "PATH_NOT_ALLOWED", f"{path} holds the server's own data", "rootPaths"
            )
        if not os.access(path, os.R_OK | os.X_OK):
            raise LibraryProblem("PATH_NOT_READABLE", f"{path} is not readable", "rootPaths")
        if path not in normalized:
            normalized.append(path)
    return normalized


async def normalize_root_paths(paths: Sequence[str], reserved: Sequence[str] = ()) -> list[str]:
    """Absolute, normalized, de-duplicated directories this process can read, none of them a
    system folder nor in ``reserved`` (the server's own data; symbolic links resolved for
    both checks)."""
    if not paths:
        raise LibraryProblem("NO_PATHS", "a library needs at least one root path", "rootPaths")
    # Touching the filesystem may block (network mounts): keep it off the event loop.
    return await asyncio.to_thread(_check_paths, list(paths), list(reserved))


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
    pool: asyncpg.Pool,
    name: str,
    kind: str,
    root_paths: Sequence[str],
    *,
    reserved: Sequence[str] = (),
) -> Any:
    """Insert a library and return its row; ``reserved``: folders no root may be in."""
    cleaned = _clean_name(name)
    if kind not in LIBRARY_KINDS:
        raise LibraryProblem("INVALID_KIND", f"unknown library kind {kind!r}", "kind")
    paths = await normalize_root_paths(root_paths, reserved)
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
    reserved: Sequence[str] = (),
) -> Any:
    """Rename and/or re-root a library; None leaves a value as it is."""
    cleaned = _clean_name(name) if name is not None else None
    paths = await normalize_root_paths(root_paths, reserved) if root_paths is not None else None
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


async def delete_library(pool: asyncpg.Pool, scans: ScanService, library_id: uuid.UUID) -> None:
    """Stop the library's scans, then delete it with its items, files and scans (the foreign
    keys cascade): a scan still running would write rows of a library that is gone."""
    if not await scans.stop(library_id):
        raise LibraryProblem(
            "SCAN_RUNNING", "the library's scan did not stop in time; try again", "id"
        )
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
