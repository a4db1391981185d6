"""Libraries named on the command line (``revenge serve --library tv:/srv/tv``)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import asyncpg

from infra.errors import BadUserInput
from media.walk import check_root

__all__ = ["LibrarySpec", "ensure_library", "find_library", "parse_library_spec"]

_KINDS = {"movies": "movies", "movie": "movies", "tv": "tv", "shows": "tv", "music": "music"}


@dataclass(frozen=True, slots=True)
class LibrarySpec:
    kind: str
    path: str


def parse_library_spec(text: str) -> LibrarySpec:
    """``KIND:PATH`` with KIND one of movies, tv, music."""
    kind, sep, path = text.partition(":")
    if not sep or not path:
        raise BadUserInput(f"{text!r}: expected KIND:PATH, for example movies:/srv/movies")
    if kind.lower() not in _KINDS:
        raise BadUserInput(f"{text!r}: kind must be movies, tv or music")
    absolute = os.path.abspath(os.path.expanduser(path))
    reason = check_root(absolute)
    if reason is not None:
        raise BadUserInput(f"{absolute}: {reason}")
    return LibrarySpec(_KINDS[kind.lower()], absolute)


async def ensure_library(pool: asyncpg.Pool, spec: LibrarySpec) -> tuple[uuid.UUID, bool]:
    """The library whose roots include the path, made (named after the folder) if missing."""
    async with pool.acquire() as conn:
        found = await conn.fetchval(
            "SELECT id FROM libraries WHERE $1 = ANY(root_paths) ORDER BY created_at LIMIT 1",
            spec.path,
        )
        if found is not None:
            return found, False
        base = os.path.basename(spec.path.rstrip("/")) or spec.path
        name = base
        for n in range(2, 100):
            taken = await conn.fetchval(
                "SELECT 1 FROM libraries WHERE lower(name) = lower($1)", name
            )
            if taken is None:
                break
            name = f"{base} ({n})"
        library_id: uuid.UUID = await conn.fetchval(
            "INSERT INTO libraries (name, kind, root_paths) VALUES ($1, $2, $3) RETURNING id",
            name,
            spec.kind,
            [spec.path],
        )
        return library_id, True


async def find_library(pool: asyncpg.Pool, name_or_id: str) -> uuid.UUID | None:
    try:
        as_id: uuid.UUID | None = uuid.UUID(name_or_id)
    except ValueError:
        as_id = None
    found: uuid.UUID | None = await pool.fetchval(
        "SELECT id FROM libraries WHERE id = $1 OR lower(name) = lower($2) LIMIT 1",
        as_id,
        name_or_id,
    )
    return found
