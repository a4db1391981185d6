from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from infra.bus import InProcessBus
from infra.errors import NotFound
from infra.jobs import open_job_queue
from resolvers.catalog import scan_jobs
from resolvers.catalog.scan_service import ScanService
from tests.subgraphs.catalog.conftest import Execute, error_codes, make_context
from tests.support.catalog_rows import insert_library


class FakeScanService:
    """Test stand-in for the lead's scan service (``services["scans"]``), a service we own:
    it only inserts the 'queued' ``library_scans`` row the real one starts with."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.calls: list[tuple[uuid.UUID, bool]] = []

    async def start(self, library_id: uuid.UUID, *, full: bool = False) -> uuid.UUID:
        self.calls.append((library_id, full))
        scan_id: uuid.UUID | None = await self.pool.fetchval(
            "INSERT INTO library_scans (library_id, status) SELECT id, 'queued' FROM libraries "
            "WHERE id = $1 RETURNING id",
            library_id,
        )
        if scan_id is None:
            raise NotFound("no library has this id")
        return scan_id


CREATE = """mutation($input: CreateLibraryInput!) {
  createLibrary(input: $input) {
    __typename
    ... on CreateLibraryPayload { library { name kind rootPaths itemCount } }
    ... on LibraryError { code message field }
  }
}"""

UPDATE = """mutation($id: ID!, $input: UpdateLibraryInput!) {
  updateLibrary(id: $id, input: $input) {
    __typename
    ... on UpdateLibraryPayload { library { id name rootPaths } }
    ... on LibraryError { code field }
  }
}"""

DELETE = """mutation($id: ID!) {
  deleteLibrary(id: $id) {
    __typename
    ... on DeleteLibraryPayload { deletedId }
    ... on LibraryError { code field }
  }
}"""

SCAN = """mutation($id: ID!, $full: Boolean!) {
  scanLibrary(id: $id, full: $full) {
    __typename
    ... on ScanLibraryPayload { scan { status filesSeen done library { id } } }
    ... on LibraryError { code field }
  }
}"""


async def test_create_library(execute: Execute, pool: asyncpg.Pool, tmp_path: Path) -> None:
    (tmp_path / "movies").mkdir()

    result = await execute(
        CREATE,
        input={"name": "Movies", "kind": "MOVIES", "rootPaths": [f"{tmp_path}/movies/"]},
    )

    assert result.errors is None
    assert result.data == {
        "createLibrary": {
            "__typename": "CreateLibraryPayload",
            "library": {
                "name": "Movies",
                "kind": "MOVIES",
                "rootPaths": [str(tmp_path / "movies")],
                "itemCount": 0,
            },
        }
    }


@pytest.mark.parametrize(
    ("name", "paths", "code", "field"),
    [
        ("movies", ["{tmp}"], "NAME_TAKEN", "name"),
        (" ", ["{tmp}"], "INVALID_NAME", "name"),
        ("New", [], "NO_PATHS", "rootPaths"),
        ("New", ["{tmp}/missing"], "PATH_NOT_FOUND", "rootPaths"),
        ("New", ["{tmp}/file.txt"], "PATH_NOT_DIRECTORY", "rootPaths"),
        ("New", ["films"], "PATH_NOT_ABSOLUTE", "rootPaths"),
        ("New", ["/etc"], "PATH_NOT_ALLOWED", "rootPaths"),
        ("New", ["{tmp}/data"], "PATH_NOT_ALLOWED", "rootPaths"),  # the server's data folder
        ("New", ["{tmp}/data/transcodes"], "PATH_NOT_ALLOWED", "rootPaths"),
        ("New", ["{tmp}/link-to-data/images"], "PATH_NOT_ALLOWED", "rootPaths"),
    ],
)
async def test_create_library_errors(
    execute: Execute,
    pool: asyncpg.Pool,
    tmp_path: Path,
    name: str,
    paths: list[str],
    code: str,
    field: str,
) -> None:
    (tmp_path / "file.txt").write_text("x")
    for folder in ("films", "data/transcodes", "data/images"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "link-to-data").symlink_to(tmp_path / "data")
    await insert_library(pool, name="Movies")

    result = await execute(
        CREATE,
        input={"name": name, "kind": "TV", "rootPaths": [p.format(tmp=tmp_path) for p in paths]},
    )

    assert result.errors is None
    payload = result.data["createLibrary"]
    assert (payload["__typename"], payload["code"], payload["field"]) == (
        "LibraryError",
        code,
        field,
    )
    assert payload["message"]


async def test_update_library(execute: Execute, pool: asyncpg.Pool, tmp_path: Path) -> None:
    library_id = await insert_library(pool, name="Movies")
    await insert_library(pool, name="Shows", kind="tv")

    renamed = await execute(UPDATE, id=str(library_id), input={"name": "Films"})
    rerooted = await execute(UPDATE, id=str(library_id), input={"rootPaths": [str(tmp_path)]})
    taken = await execute(UPDATE, id=str(library_id), input={"name": "SHOWS"})
    unknown = await execute(UPDATE, id=str(uuid.uuid4()), input={"name": "X"})
    malformed = await execute(UPDATE, id="nope", input={"name": "X"})

    assert renamed.data["updateLibrary"]["library"] == {
        "id": str(library_id),
        "name": "Films",
        "rootPaths": ["/media/movies"],
    }
    assert rerooted.data["updateLibrary"]["library"]["rootPaths"] == [str(tmp_path)]
    assert taken.data["updateLibrary"] == {
        "__typename": "LibraryError",
        "code": "NAME_TAKEN",
        "field": "name",
    }
    assert unknown.data["updateLibrary"] == {
        "__typename": "LibraryError",
        "code": "NOT_FOUND",
        "field": "id",
    }
    assert error_codes(malformed) == ["BAD_USER_INPUT"]


async def test_delete_library(
    execute: Execute, pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    library_id = await insert_library(pool)
    jobs = await open_job_queue(database_url, {scan_jobs.NAMESPACE: scan_jobs.blueprint()})
    scans = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)
    try:
        context = make_context(pool, tmp_path, scans=scans)
        deleted = await execute(DELETE, context=context, id=str(library_id))
        again = await execute(DELETE, context=context, id=str(library_id))
        malformed = await execute(DELETE, context=context, id="1")
    finally:
        await jobs.close()

    assert deleted.data == {
        "deleteLibrary": {"__typename": "DeleteLibraryPayload", "deletedId": str(library_id)}
    }
    assert again.data == {
        "deleteLibrary": {"__typename": "LibraryError", "code": "NOT_FOUND", "field": "id"}
    }
    assert error_codes(malformed) == ["BAD_USER_INPUT"]
    assert await pool.fetchval("SELECT count(*) FROM libraries") == 0


async def test_scan_library(execute: Execute, pool: asyncpg.Pool, tmp_path: Path) -> None:
    library_id = await insert_library(pool)
    scans = FakeScanService(pool)
    context = make_context(pool, tmp_path, scans=scans)

    started = await execute(SCAN, context=context, id=str(library_id), full=True)
    unknown = await execute(
        SCAN, context=make_context(pool, tmp_path, scans=scans), id=str(uuid.uuid4()), full=False
    )
    malformed = await execute(
        SCAN, context=make_context(pool, tmp_path, scans=scans), id="x", full=False
    )

    assert started.errors is None
    assert started.data == {
        "scanLibrary": {
            "__typename": "ScanLibraryPayload",
            "scan": {
                "status": "QUEUED",
                "filesSeen": 0,
                "done": False,
                "library": {"id": str(library_id)},
            },
        }
    }
    assert unknown.data == {
        "scanLibrary": {"__typename": "LibraryError", "code": "NOT_FOUND", "field": "id"}
    }
    assert error_codes(malformed) == ["BAD_USER_INPUT"]
    assert [call[1] for call in scans.calls] == [True, False]
    assert scans.calls[0][0] == library_id
