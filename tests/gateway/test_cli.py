"""The ``revenge`` command as a user runs it: a real process, embedded PostgreSQL included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.gateway.conftest import free_port
from tests.support.media_files import make_audio, make_video

REVENGE = str(Path(sys.executable).with_name("revenge"))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVENGE_")}
    env.update(extra)
    return env


def cli_admin_key(env: dict[str, str], name: str = "root") -> str:
    """`revenge admin create --api-key`, as an operator scripts it; the key is the last line."""
    completed = subprocess.run(
        [REVENGE, "admin", "create", "--name", name, "--password", "s3cret-enough", "--api-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    key = completed.stdout.strip().splitlines()[-1]
    assert key.startswith("rvg_")
    return key


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"revenge serve exited with {process.returncode}")
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("revenge serve did not become ready")


def test_serve_scans_the_libraries_named_on_the_command_line(tmp_path: Path) -> None:
    movies, music = tmp_path / "Movies", tmp_path / "Music"
    movies.mkdir()
    make_video(movies / "Alien (1979).mkv", seconds=0.5)
    make_video(movies / "Aliens (1986).mkv", seconds=0.5)
    album = music / "Air" / "Moon Safari (1998)"
    album.mkdir(parents=True)
    make_audio(album / "01 - La Femme d'Argent.mp3", seconds=0.3)
    port = free_port()
    data = tmp_path / "data"
    process = subprocess.Popen(
        [REVENGE, "serve", "--library", f"movies:{movies}", "--library", f"music:{music}"],
        env=clean_env(REVENGE_DATA_DIR=str(data), REVENGE_SERVER_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        # Beside the running server, on the same embedded database.
        key = cli_admin_key(clean_env(REVENGE_DATA_DIR=str(data)))
        auth = {"x-api-key": key}
        deadline = time.monotonic() + 60
        libraries: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            body = httpx.post(
                url + "/graphql",
                json={"query": "{ libraries { latestScan { done } } }"},
                headers=auth,
                timeout=5,
            ).json()
            libraries = body["data"]["libraries"]
            scans = [lib["latestScan"] for lib in libraries]
            if len(scans) == 2 and all(scan and scan["done"] for scan in scans):  # type: ignore[index]
                break
            time.sleep(0.1)
        # Counted after the scans finished (a request racing the last batch could count fewer).
        libraries = httpx.post(
            url + "/graphql",
            json={"query": "{ libraries { name kind itemCount } }"},
            headers=auth,
            timeout=5,
        ).json()["data"]["libraries"]
        assert sorted((lib["name"], lib["kind"], lib["itemCount"]) for lib in libraries) == [
            ("Movies", "MOVIES", 2),
            ("Music", "MUSIC", 2),  # an artist and an album
        ]
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert "revenge is serving" in output
    # The embedded PostgreSQL stopped with the server.
    assert not (data / "postgres" / "postmaster.pid").exists()

    # Restarting on the same data dir keeps everything and scans nothing new.
    process = subprocess.Popen(
        [REVENGE, "serve"],
        env=clean_env(REVENGE_DATA_DIR=str(data), REVENGE_SERVER_PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(url, process)
        body = httpx.post(
            url + "/graphql", json={"query": "{ libraries { name } }"}, headers=auth
        ).json()
        assert sorted(lib["name"] for lib in body["data"]["libraries"]) == ["Movies", "Music"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def test_a_bad_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    completed = subprocess.run(
        [REVENGE, "serve"],
        env=clean_env(REVENGE_DATA_DIR=str(tmp_path), REVENGE_SERVER_PORT="eighty"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr == ("revenge: REVENGE_SERVER_PORT: must be an integer, got 'eighty'\n")


def test_serve_refuses_a_library_folder_that_does_not_exist(tmp_path: Path) -> None:
    completed = subprocess.run(
        [REVENGE, "serve", "--library", f"movies:{tmp_path / 'nowhere'}"],
        env=clean_env(REVENGE_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr == f"revenge: {tmp_path / 'nowhere'}: does not exist\n"


def test_naming_prints_one_json_object_per_path() -> None:
    completed = subprocess.run(
        [
            REVENGE,
            "naming",
            "--kind",
            "tv",
            "Severance/Season 01/Severance S01E02E03 - Half Loop.mkv",
            "Severance/Season 01/Severance S01E04-sample.mkv",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert (first["kind"], first["series"], first["season"]) == ("episode", "Severance", 1)
    assert (first["episode"], first["episode_end"], first["title"]) == (2, 3, "Half Loop")
    assert (lines[1]["ignored"], lines[1]["reason"]) == (True, "sample")


def test_migrate_status_lists_every_migration(tmp_path: Path) -> None:
    completed = subprocess.run(
        [REVENGE, "migrate", "status"],
        env=clean_env(REVENGE_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert completed.stdout.splitlines()[0].split() == ["000001", "create_catalog", "pending"]


def test_subgraph_serves_the_catalog_alone_with_service_and_entities(
    tmp_path: Path, database_url: str, pool: object
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [REVENGE, "subgraph", "catalog", "--port", str(port)],
        env=clean_env(REVENGE_DATA_DIR=str(tmp_path / "data"), REVENGE_DATABASE_URL=database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    key = cli_admin_key(
        clean_env(REVENGE_DATA_DIR=str(tmp_path / "data"), REVENGE_DATABASE_URL=database_url), "ops"
    )
    auth = {"x-api-key": key}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
            time.sleep(0.05)
        sdl = httpx.post(url + "/graphql", json={"query": "{ _service { sdl } }"}).json()
        assert '@key(fields: "id")' in sdl["data"]["_service"]["sdl"]
        assert "type MediaItem" in sdl["data"]["_service"]["sdl"]
        missing = "00000000-0000-7000-8000-000000000000"
        entities = httpx.post(
            url + "/graphql",
            json={
                "query": "query ($r: [_Any!]!) { _entities(representations: $r) "
                "{ __typename ... on MediaItem { id title } } }",
                "variables": {"r": [{"__typename": "MediaItem", "id": missing}]},
            },
        ).json()
        assert entities["data"]["_entities"] == [None]
        created = httpx.post(
            url + "/graphql",
            headers=auth,
            json={
                "query": "mutation ($i: CreateLibraryInput!) { createLibrary(input: $i) "
                "{ ... on CreateLibraryPayload { library { id } } } }",
                "variables": {"i": {"name": "Alone", "kind": "TV", "rootPaths": [str(tmp_path)]}},
            },
        ).json()
        library_id = created["data"]["createLibrary"]["library"]["id"]
        found = httpx.post(
            url + "/graphql",
            headers=auth,
            json={
                "query": "query ($r: [_Any!]!) { _entities(representations: $r) "
                "{ ... on Library { name kind } } }",
                "variables": {"r": [{"__typename": "Library", "id": library_id}]},
            },
        ).json()
        assert found["data"]["_entities"] == [{"name": "Alone", "kind": "TV"}]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def test_scan_command_scans_a_library_and_reports_progress(tmp_path: Path) -> None:
    movies = tmp_path / "Films"
    movies.mkdir()
    make_video(movies / "Solaris (1972).mkv", seconds=0.3)
    env = clean_env(REVENGE_DATA_DIR=str(tmp_path / "data"), REVENGE_LOG_FORMAT="json")
    port = free_port()
    # `serve` registers the library (no scan yet: the folder is empty of media at first).
    server = subprocess.Popen(
        [REVENGE, "serve", "--library", f"movies:{movies}"],
        env={**env, "REVENGE_SERVER_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", server)
        key = cli_admin_key(env)
        make_video(movies / "Stalker (1979).mkv", seconds=0.3)
        # The CLI scans beside the running server, on the same embedded database.
        completed = subprocess.run(
            [REVENGE, "scan", "Films"], env=env, capture_output=True, text=True, timeout=120
        )
        assert completed.returncode == 0, completed.stderr
        progress = [
            json.loads(line) for line in completed.stderr.splitlines() if "scan progress" in line
        ]
        assert progress[-1]["status"] == "completed"
        assert progress[-1]["seen"] == 2
        body = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ items { totalCount } }"},
            headers={"x-api-key": key},
        ).json()
        assert body["data"]["items"]["totalCount"] == 2
        unknown = subprocess.run(
            [REVENGE, "scan", "Nope"], env=env, capture_output=True, text=True, timeout=120
        )
        assert unknown.returncode == 2
        assert unknown.stderr.strip().endswith("revenge: no library named 'Nope'")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)


def test_schema_check_passes_on_the_committed_schema() -> None:
    completed = subprocess.run(
        [REVENGE, "schema", "--check"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().endswith("schema.graphql is up to date")


def test_admin_create_refuses_a_taken_name_and_a_short_password(tmp_path: Path) -> None:
    env = clean_env(REVENGE_DATA_DIR=str(tmp_path))
    cli_admin_key(env, "boss")
    again = subprocess.run(
        [REVENGE, "admin", "create", "--name", "BOSS", "--password", "another-one"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (again.returncode, again.stderr) == (2, "revenge: that user name is taken\n")
    short = subprocess.run(
        [REVENGE, "admin", "create", "--name", "other", "--password", "short"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert short.returncode == 2
    assert short.stderr == "revenge: a password is 8 to 1024 characters\n"
