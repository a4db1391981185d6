from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg
import pytest

from infra.bus import InProcessBus
from infra.jobs import JobQueue
from resolvers.catalog.libraries import (
    LibraryProblem,
    create_library,
    delete_library,
    is_system_folder,
    list_genres,
    list_libraries,
    update_library,
)
from resolvers.catalog.scan_service import ScanService
from tests.support.catalog_rows import add_genres, insert_item, insert_library, insert_scan


async def test_create_stores_absolute_normalized_unique_paths(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    (tmp_path / "movies").mkdir()

    row = await create_library(
        pool,
        "  My   Movies ",
        "movies",
        [f"{tmp_path}/movies", f"{tmp_path}/movies/../movies/", f"/{tmp_path}//movies"],
    )

    assert row["name"] == "My Movies"
    assert row["kind"] == "movies"
    assert row["root_paths"] == [str(tmp_path / "movies")]
    assert [r["id"] for r in await list_libraries(pool)] == [row["id"]]


@pytest.mark.parametrize("path", ["movies", "./movies", "../movies", "~/movies"])
async def test_relative_paths_are_refused_not_resolved_against_the_working_directory(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    (tmp_path / "movies").mkdir()
    monkeypatch.chdir(tmp_path)

    with pytest.raises(LibraryProblem) as raised:
        await create_library(pool, "Movies", "movies", [path])

    assert (raised.value.code, raised.value.field) == ("PATH_NOT_ABSOLUTE", "rootPaths")
    assert await list_libraries(pool) == []


SYSTEM_FOLDERS = [
    "/", "//", "/etc", "/proc", "/proc/self", "/sys", "/dev", "/dev/shm", "/usr", "/usr/share",
    "/usr/local", "/usr/local/lib", "/var", "/var/lib", "/tmp", "/tmp/", "/var/tmp", "/run",
    "/boot", "/bin",
]  # fmt: skip


@pytest.mark.parametrize("path", [p for p in SYSTEM_FOLDERS if os.path.isdir(p)])
async def test_system_folders_are_refused(pool: asyncpg.Pool, path: str) -> None:
    with pytest.raises(LibraryProblem) as raised:
        await create_library(pool, "System", "movies", [path])

    assert (raised.value.code, raised.value.field) == ("PATH_NOT_ALLOWED", "rootPaths")
    assert await list_libraries(pool) == []


async def test_a_link_to_a_system_folder_is_refused(pool: asyncpg.Pool, tmp_path: Path) -> None:
    (tmp_path / "looks-like-media").symlink_to("/etc")
    (tmp_path / "media").mkdir()
    (tmp_path / "link-to-media").symlink_to(tmp_path / "media")

    with pytest.raises(LibraryProblem) as raised:
        await update_library(
            pool,
            await insert_library(pool, root_paths=[str(tmp_path / "media")]),
            root_paths=[str(tmp_path / "looks-like-media")],
        )
    linked = await create_library(pool, "Linked", "movies", [str(tmp_path / "link-to-media")])

    assert (raised.value.code, raised.value.field) == ("PATH_NOT_ALLOWED", "rootPaths")
    assert linked["root_paths"] == [str(tmp_path / "link-to-media")]


def test_folders_below_tmp_and_usr_local_may_hold_media() -> None:
    assert [
        is_system_folder(p)
        for p in ("/tmp/films", "/var/tmp/films", "/usr/local/media", "/media", "/srv/media")
    ] == [False] * 5


@pytest.mark.parametrize(
    ("name", "paths", "code", "field"),
    [
        ("", ["{tmp}"], "INVALID_NAME", "name"),
        ("   ", ["{tmp}"], "INVALID_NAME", "name"),
        ("x" * 201, ["{tmp}"], "INVALID_NAME", "name"),
        ("Tab\there", ["{tmp}"], "INVALID_NAME", "name"),
        ("Movies", [], "NO_PATHS", "rootPaths"),
        ("Movies", ["{tmp}/nowhere"], "PATH_NOT_FOUND", "rootPaths"),
        ("Movies", [""], "PATH_NOT_FOUND", "rootPaths"),
        ("Movies", ["{tmp}/a-file"], "PATH_NOT_DIRECTORY", "rootPaths"),
        ("Movies", ["{tmp}", "{tmp}/nowhere"], "PATH_NOT_FOUND", "rootPaths"),
    ],
)
async def test_create_rejects_bad_input(
    pool: asyncpg.Pool, tmp_path: Path, name: str, paths: list[str], code: str, field: str
) -> None:
    (tmp_path / "a-file").write_text("x")

    with pytest.raises(LibraryProblem) as raised:
        await create_library(pool, name, "movies", [p.format(tmp=tmp_path) for p in paths])

    assert (raised.value.code, raised.value.field) == (code, field)
    assert await list_libraries(pool) == []


async def test_unreadable_directory_is_reported(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Running as root every directory is readable; ask os.access the real question anyway.
    real_access = os.access
    locked = str(tmp_path)
    monkeypatch.setattr(
        os, "access", lambda path, mode: False if path == locked else real_access(path, mode)
    )

    with pytest.raises(LibraryProblem) as raised:
        await create_library(pool, "Movies", "movies", [locked])

    assert raised.value.code == "PATH_NOT_READABLE"


async def test_names_are_unique_case_insensitively(pool: asyncpg.Pool, tmp_path: Path) -> None:
    await create_library(pool, "Movies", "movies", [str(tmp_path)])

    with pytest.raises(LibraryProblem) as raised:
        await create_library(pool, "MOVIES", "tv", [str(tmp_path)])

    assert (raised.value.code, raised.value.field) == ("NAME_TAKEN", "name")


async def test_update_renames_and_reroots(pool: asyncpg.Pool, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    created = await create_library(pool, "Movies", "movies", [str(tmp_path / "a")])

    renamed = await update_library(pool, created["id"], name="Films")
    rerooted = await update_library(pool, created["id"], root_paths=[str(tmp_path / "b")])

    assert (renamed["name"], renamed["root_paths"]) == ("Films", [str(tmp_path / "a")])
    assert (rerooted["name"], rerooted["root_paths"]) == ("Films", [str(tmp_path / "b")])


async def test_update_errors(pool: asyncpg.Pool, tmp_path: Path) -> None:
    await create_library(pool, "Shows", "tv", [str(tmp_path)])
    movies = await create_library(pool, "Movies", "movies", [str(tmp_path)])

    for kwargs, code in [
        ({"name": "shows"}, "NAME_TAKEN"),
        ({"name": ""}, "INVALID_NAME"),
        ({"root_paths": []}, "NO_PATHS"),
        ({"root_paths": [str(tmp_path / "gone")]}, "PATH_NOT_FOUND"),
    ]:
        with pytest.raises(LibraryProblem) as raised:
            await update_library(pool, movies["id"], **kwargs)  # type: ignore[arg-type]
        assert raised.value.code == code
    with pytest.raises(LibraryProblem) as raised:
        await update_library(pool, uuid.uuid4(), name="Other")
    assert raised.value.code == "NOT_FOUND"


async def test_delete_cascades(pool: asyncpg.Pool, jobs: JobQueue) -> None:
    library_id = await insert_library(pool)
    await insert_item(pool, library_id, "Alien")
    await insert_scan(pool, library_id)
    scans = ScanService(pool, InProcessBus(), jobs, probe_workers=1, probe_timeout_s=20)

    await delete_library(pool, scans, library_id)

    assert await pool.fetchval("SELECT count(*) FROM media_items") == 0
    assert await pool.fetchval("SELECT count(*) FROM library_scans") == 0
    with pytest.raises(LibraryProblem) as raised:
        await delete_library(pool, scans, library_id)
    assert raised.value.code == "NOT_FOUND"


async def test_genres_in_use(pool: asyncpg.Pool) -> None:
    movies = await insert_library(pool)
    shows = await insert_library(pool, name="Shows", kind="tv")
    await add_genres(pool, await insert_item(pool, movies, "Alien"), ["Horror", "action"])
    await add_genres(pool, await insert_item(pool, shows, "Lost", kind="series"), ["Drama"])
    await add_genres(pool, await insert_item(pool, shows, "Gone", is_missing=True), ["Western"])

    assert [g["name"] for g in await list_genres(pool)] == ["action", "Drama", "Horror"]
    assert [g["name"] for g in await list_genres(pool, movies)] == ["action", "Horror"]
    assert await list_genres(pool, uuid.uuid4()) == []
