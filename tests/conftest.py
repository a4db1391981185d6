"""Shared fixtures: a real PostgreSQL for every test that needs one.

``REVENGE_TEST_DATABASE_URL`` points at a running server (a fresh database is created on it
for the session and dropped afterwards); without it the tests start the embedded server
(pgserver) in a temporary folder, as ``revenge serve`` does on a fresh machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import asyncpg
import pytest

from infra.database import _start_embedded, create_pool
from infra.migrations import migrate_up


def _with_database(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("REVENGE_TEST_DATABASE_URL")
    if external:
        name = f"revenge_test_{uuid.uuid4().hex[:12]}"
        import asyncio

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(external)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        try:
            yield _with_database(external, name)
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    directory = Path(tmp_path_factory.mktemp("pg")) / "postgres"
    embedded = _start_embedded(directory)
    try:
        yield embedded.url
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
async def migrated_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, 1, 10)
    async with pool.acquire() as conn:
        await migrate_up(conn)
    try:
        yield pool
    finally:
        await pool.close()


async def truncate_all(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name "
            "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
            "AND tablename <> 'schema_migrations'"
        )
        if tables:
            await conn.execute("TRUNCATE " + ", ".join(row["name"] for row in tables) + " CASCADE")


@pytest.fixture
async def pool(migrated_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """The migrated pool, emptied before each test."""
    await truncate_all(migrated_pool)
    yield migrated_pool


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``REVENGE_TEST_REDIS_URL`` when set; otherwise a private redis-server on a free port."""
    external = os.environ.get("REVENGE_TEST_REDIS_URL")
    if external:
        yield external
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is needed for the Redis tests (./dev test installs it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.02)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
