"""``revenge serve`` started from a folder holding a ``media.py``: its children (the probe pool's
fork server and workers, the spare transcode child) import the installed package, the scan
probes the files, and SIGTERM still stops the server. A real process, embedded PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.gateway.conftest import free_port
from tests.gateway.test_cli import REVENGE, clean_env, cli_admin_key, wait_ready
from tests.support.media_files import make_video

HOSTILE = """\
import os, pathlib
pathlib.Path(os.environ["HOSTILE_MARKER"]).write_text(f"media.py ran in {os.getpid()}")
"""
FILES = "{ items(kinds: [MOVIE]) { nodes { files { durationMs probeError } } } }"


def test_serve_from_a_folder_with_a_media_module_probes_with_the_real_package(
    tmp_path: Path,
) -> None:
    working = tmp_path / "working"
    working.mkdir()
    (working / "media.py").write_text(HOSTILE)
    marker = tmp_path / "hostile-ran"
    movies = tmp_path / "Movies"
    movies.mkdir()
    make_video(movies / "Alien (1979).mkv", seconds=1.0)
    data = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [REVENGE, "serve", "--library", f"movies:{movies}"],
        cwd=working,
        env=clean_env(
            REVENGE_DATA_DIR=str(data),
            REVENGE_SERVER_PORT=str(port),
            HOSTILE_MARKER=str(marker),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    files: list[dict[str, object]] = []
    try:
        wait_ready(url, process)
        auth = {"x-api-key": cli_admin_key(clean_env(REVENGE_DATA_DIR=str(data)))}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not files:
            body = httpx.post(url + "/graphql", json={"query": FILES}, headers=auth).json()
            files = [f for node in body["data"]["items"]["nodes"] for f in node["files"]]
            time.sleep(0.1)
    except Exception as error:  # the server's own output says why
        process.kill()
        output = process.communicate(timeout=60)[0].decode(errors="replace")
        raise AssertionError(f"{error}\n{output}") from error
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode(errors="replace")

    assert process.returncode == 0, output
    assert not marker.exists()
    assert [file["probeError"] for file in files] == [None]
    assert 1000 <= files[0]["durationMs"] < 1100  # type: ignore[operator]  # probed: a 1 s clip
