"""Numbered SQL migrations, applied under a PostgreSQL advisory lock.

Files are ``migrations/NNNNNN_name.up.sql`` and ``.down.sql`` (golang-migrate naming), and the
bookkeeping table is golang-migrate's own ``schema_migrations(version, dirty)``, so operators can
run the same folder with that tool. Two processes starting together serialise on the lock: the
second finds the work done.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import asyncpg

__all__ = [
    "MIGRATIONS_DIR",
    "Migration",
    "MigrationError",
    "MigrationStatus",
    "current_version",
    "latest_version",
    "load_migrations",
    "migrate_down",
    "migrate_status",
    "migrate_up",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_LOCK_KEY = 0x5245_5645_4E47_45  # "REVENGE"
_NAME = re.compile(r"^(\d+)_([A-Za-z0-9_]+)\.(up|down)\.sql$")


class MigrationError(Exception):
    """The migrations folder or the database's migration state is unusable."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    up_sql: str
    down_sql: str


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    version: int
    name: str
    applied: bool


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    parts: dict[int, dict[str, str]] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: not named NNNNNN_name.up.sql / .down.sql")
        version = int(match.group(1))
        entry = parts.setdefault(version, {"name": match.group(2)})
        if entry["name"] != match.group(2):
            raise MigrationError(f"version {version} has two names")
        entry[match.group(3)] = path.read_text(encoding="utf-8")
    migrations = []
    for version in sorted(parts):
        entry = parts[version]
        if "up" not in entry or "down" not in entry:
            raise MigrationError(f"version {version} needs both an up and a down file")
        migrations.append(Migration(version, entry["name"], entry["up"], entry["down"]))
    return migrations


@cache
def latest_version(directory: Path = MIGRATIONS_DIR) -> int:
    """The newest migration this code knows (read from disk once per process)."""
    return load_migrations(directory)[-1].version


_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
)


async def current_version(conn: asyncpg.Connection) -> tuple[int, bool]:
    """The applied version (0 when none) and whether a migration failed half way."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0, False
    row = await conn.fetchrow("SELECT version, dirty FROM schema_migrations LIMIT 1")
    if row is None:
        return 0, False
    return int(row["version"]), bool(row["dirty"])


async def _set_version(conn: asyncpg.Connection, version: int) -> None:
    await conn.execute("DELETE FROM schema_migrations")
    if version > 0:
        await conn.execute(
            "INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)", version
        )


@asynccontextmanager
async def _locked(conn: asyncpg.Connection) -> AsyncIterator[int]:
    """Hold the migration lock; yields the applied version (refusing a dirty database)."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        version, dirty = await current_version(conn)
        if dirty:
            raise MigrationError(f"database is dirty at version {version}; fix it by hand")
        yield version
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def migrate_up(
    conn: asyncpg.Connection, migrations: list[Migration] | None = None
) -> list[int]:
    """Apply every pending migration; returns the versions applied."""
    todo = load_migrations() if migrations is None else migrations
    applied: list[int] = []
    async with _locked(conn) as version:
        for migration in todo:
            if migration.version <= version:
                continue
            async with conn.transaction():
                await conn.execute(migration.up_sql)
                await _set_version(conn, migration.version)
            applied.append(migration.version)
    return applied


async def migrate_down(
    conn: asyncpg.Connection, steps: int = 1, migrations: list[Migration] | None = None
) -> list[int]:
    """Revert the newest ``steps`` migrations; returns the versions reverted."""
    known = load_migrations() if migrations is None else migrations
    reverted: list[int] = []
    async with _locked(conn) as version:
        applied = [m for m in known if m.version <= version]
        for migration in reversed(applied[-steps:] if steps > 0 else []):
            previous = [m.version for m in applied if m.version < migration.version]
            async with conn.transaction():
                await conn.execute(migration.down_sql)
                await _set_version(conn, previous[-1] if previous else 0)
            reverted.append(migration.version)
    return reverted


async def migrate_status(
    conn: asyncpg.Connection, migrations: list[Migration] | None = None
) -> list[MigrationStatus]:
    known = load_migrations() if migrations is None else migrations
    version, _ = await current_version(conn)
    return [MigrationStatus(m.version, m.name, m.version <= version) for m in known]
