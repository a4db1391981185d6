"""The PostgreSQL connection pool, on an external server or an embedded one.

When ``REVENGE_DATABASE_URL`` is unset, Revenge runs its own PostgreSQL (the ``pgserver``
wheel) in ``<data dir>/postgres``: started with the process, stopped when the last process
using that folder exits, so the CLI can work beside a running server on the same data dir.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from infra.bus_topics import BusUnavailable
from infra.migrations import migrate_up
from infra.settings import Settings

__all__ = [
    "Database",
    "EmbeddedPostgres",
    "database_unavailable",
    "log_failure",
    "open_database",
    "start_embedded_postgres",
]

EMBEDDED_DATABASE = "revenge"


@dataclass(slots=True)
class EmbeddedPostgres:
    """A handle on the embedded server; ``stop`` releases it (the server stops with the last)."""

    server: Any
    url: str

    def stop(self) -> None:
        self.server.cleanup()


def _start_embedded(directory: Path) -> EmbeddedPostgres:
    from pgserver import get_server  # type: ignore[attr-defined]

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); pgserver copes.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        server = get_server(directory, cleanup_mode="stop")
    exists = server.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';"
    ).strip()
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
    return EmbeddedPostgres(server=server, url=str(server.get_uri(EMBEDDED_DATABASE)))


async def start_embedded_postgres(directory: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded server in ``directory``; blocking work runs in a thread."""
    return await asyncio.to_thread(_start_embedded, directory)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@dataclass(slots=True)
class Database:
    pool: asyncpg.Pool
    url: str
    embedded: EmbeddedPostgres | None = None
    migrated: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        await self.pool.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a released connection needs before its next use, beyond what asyncpg always does
    (roll back an open transaction, drop listeners): nothing. asyncpg's default also sends
    ``RESET ALL; UNLISTEN *; CLOSE ALL; SELECT pg_advisory_unlock_all()``, a round trip on every
    release, and a GraphQL request releases a connection per loader batch (14 round trips of a
    grid page's 30). Our SQL leaves no session state behind: it sets no session settings, its
    advisory locks are transaction locks but the migration lock, released in a ``finally``, and
    nothing on this pool listens (the job queue has its own connections)."""


async def create_pool(url: str, min_size: int, max_size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=min(min_size, max_size),
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=60,
    )
    assert pool is not None
    return pool


async def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """Open the pool (starting the embedded server if needed) and apply pending migrations."""
    embedded: EmbeddedPostgres | None = None
    url = settings.database_url
    if url is None:
        embedded = await start_embedded_postgres(settings.embedded_database_dir)
        url = embedded.url
    try:
        pool = await create_pool(
            url, settings.database_pool_min_conns, settings.database_pool_max_conns
        )
    except BaseException:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    database = Database(pool=pool, url=url, embedded=embedded)
    if migrate:
        async with pool.acquire() as conn:
            await migrate_up(conn)
        database.migrated = True
    return database


# What asyncpg raises when the server is gone: the socket refused or missing (OSError), the
# server shutting down or starting (CannotConnectNow), a connection that died under a query.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means PostgreSQL cannot be reached right now (an outage the caller may
    retry, answered 503 ``UNAVAILABLE``) rather than a fault of ours. An ``OSError`` counts only
    when asyncpg raised it (its frames are in the traceback): a missing media file does not."""
    if isinstance(error, (*_UNAVAILABLE, BusUnavailable)):
        return True
    if isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error):
        return True
    if isinstance(error, OSError | TimeoutError):
        traceback = error.__traceback__
        while traceback is not None:
            if traceback.tb_frame.f_globals.get("__name__", "").startswith("asyncpg"):
                return True
            traceback = traceback.tb_next
    return False


def log_failure(logger: Any, event: str, error: BaseException, **fields: Any) -> None:
    """A background loop's failed round: a warning without a traceback while PostgreSQL is
    unreachable (each round would repeat it until the server is back), else the traceback."""
    if database_unavailable(error):
        logger.warning(event, database="unavailable", error=repr(error), **fields)
    else:
        logger.error(event, exc_info=error, **fields)
