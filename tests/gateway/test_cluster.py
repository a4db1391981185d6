"""`revenge serve` as several processes (gateway/cluster.py), as a user runs it: a real supervisor,
real server processes on one port, killed for real."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from infra.database import start_embedded_postgres
from tests.gateway.conftest import free_port
from tests.gateway.test_cli import REVENGE, clean_env, cli_admin_key

METRICS_TOKEN = "cluster-metrics-token-0123456789"
WS_PROTOCOL = "graphql-transport-ws"
LIBRARY_SCAN = "subscription($id: ID!) { libraryScan(libraryId: $id) { status } }"
LATEST_SCAN = "query($id: ID!) { library(id: $id) { latestScan { status } } }"
SCAN_LIBRARY = (
    "mutation($id: ID!) { scanLibrary(id: $id) { ... on ScanLibraryPayload { scan { id } } } }"
)


def server_processes(supervisor: int) -> list[int]:
    """The supervisor's server processes (its spawned children, not multiprocessing's resource
    tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    found = []
    for pid in map(int, children):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(pid)
    return sorted(found)


def ready_answer(url: str) -> dict[str, object] | None:
    try:
        answer = httpx.get(url + "/health/ready", timeout=2)
    except httpx.TransportError:
        return None
    return answer.json() if answer.status_code == 200 else None


def wait_all_ready(
    url: str, process: subprocess.Popen[bytes], size: int, seconds: float = 90
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"revenge serve exited with {process.returncode}")
        answer = ready_answer(url)
        if answer is not None and answer.get("processes") == {"ready": size, "of": size}:
            assert answer["status"] == "ok"
            return
        time.sleep(0.1)
    raise AssertionError(f"not every process became ready: {ready_answer(url)}")


def graphql(url: str, query: str, key: str | None = None, **variables: object) -> httpx.Response:
    headers = {"x-api-key": key} if key else {}
    # A new connection each time: the kernel spreads connections, not requests, over processes.
    with httpx.Client(timeout=10) as client:
        return client.post(
            url + "/graphql", json={"query": query, "variables": variables}, headers=headers
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    """The supervisor and its processes gone, its output pipe closed."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def start_cluster(
    tmp_path: Path, **extra: str
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """`revenge serve` with two server processes on a free port, once both are ready: the
    process, its URL and its environment (``extra`` added)."""
    port = free_port()
    env = clean_env(
        REVENGE_DATA_DIR=str(tmp_path / "data"),
        REVENGE_SERVER_PORT=str(port),
        REVENGE_SERVER_WORKERS="2",
        REVENGE_PROBE_WORKERS="1",
        **extra,
    )
    process = subprocess.Popen(
        [REVENGE, "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_all_ready(url, process, 2)
    except BaseException:
        kill(process)
        raise
    return process, url, env


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, dict[str, str]]]:
    process, url, env = start_cluster(
        tmp_path, REVENGE_METRICS_ENABLED="true", REVENGE_METRICS_TOKEN=METRICS_TOKEN
    )
    try:
        yield process, url, env
    finally:
        kill(process)


def graphql_requests_counted(url: str) -> float:
    text = httpx.get(
        url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
    ).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("revenge_http_requests_total{") and 'route="/graphql"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_every_process_serves_and_the_server_outlives_any_one_of_them(
    cluster: tuple[subprocess.Popen[bytes], str, dict[str, str]], tmp_path: Path
) -> None:
    process, url, env = cluster
    first = server_processes(process.pid)
    assert len(first) == 2

    # /metrics is the whole server's: 40 requests spread over two processes count 40 in any
    # one scrape (a process's own registry would show about half).
    for _ in range(40):
        assert graphql(url, "{ serverTime }").status_code == 200
    assert graphql_requests_counted(url) == 40

    key = cli_admin_key(env)
    folder = tmp_path / "Movies"
    folder.mkdir()
    created = graphql(
        url,
        "mutation($path: String!) { createLibrary(input: "
        '{kind: MOVIES, name: "M", rootPaths: [$path]}) '
        "{ ... on CreateLibraryPayload { library { id } } } }",
        key,
        path=str(folder),
    ).json()
    assert "data" in created, created
    library_id = created["data"]["createLibrary"]["library"]["id"]

    # Kill each first-generation process in turn (SIGKILL: no shutdown), so the one running
    # the jobs dies whichever it was. The other serves meanwhile; the supervisor starts anew.
    for victim in first:
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < 0.5:
            time.sleep(0.05)  # connections queued on the dead process's socket may be reset
        for _ in range(10):
            assert graphql(url, "{ serverTime }").status_code == 200
        wait_all_ready(url, process, 2, seconds=60)
    second = server_processes(process.pid)
    assert len(second) == 2 and not set(second) & set(first)

    # The in-process jobs moved to a living process: a scan asked for now runs to its end.
    scanned = graphql(
        url,
        SCAN_LIBRARY,
        key,
        id=library_id,
    ).json()
    assert "errors" not in scanned, scanned
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        answer = graphql(
            url,
            "query($id: ID!) { library(id: $id) { latestScan { status } } }",
            key,
            id=library_id,
        ).json()
        status = answer["data"]["library"]["latestScan"]["status"]
        if status == "COMPLETED":
            break
        time.sleep(0.2)
    assert status == "COMPLETED"

    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert "a server process stopped; starting another" in output
    assert output.count("this process runs the in-process jobs") >= 2, output
    assert "Traceback" not in output, output
    assert all(not Path(f"/proc/{pid}").exists() for pid in second)


def test_ctrl_c_on_the_terminal_stops_every_process_in_order(
    cluster: tuple[subprocess.Popen[bytes], str, dict[str, str]],
) -> None:
    process, url, _ = cluster
    children = server_processes(process.pid)
    # A terminal sends SIGINT to the whole foreground group: the supervisor alone acts on it.
    os.killpg(process.pid, signal.SIGINT)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert output.count("revenge stopped") == 3, output  # each process, then the supervisor
    assert "stopping now, without the shutdown" not in output
    assert all(not Path(f"/proc/{pid}").exists() for pid in children)
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/health/live", timeout=2)


def test_a_subscription_on_any_process_hears_what_another_process_published(
    cluster: tuple[subprocess.Popen[bytes], str, dict[str, str]], tmp_path: Path
) -> None:
    # No Redis: the embedded default's bus is PostgreSQL's LISTEN/NOTIFY. Six sockets on new
    # connections land on both processes (all six on one: 1 in 32); the scan's events come from
    # whichever process runs the jobs, and every socket must hear them to the end.
    _, url, env = cluster
    key = cli_admin_key(env)
    folder = tmp_path / "Movies"
    folder.mkdir()
    created = graphql(
        url,
        "mutation($path: String!) { createLibrary(input: "
        '{kind: MOVIES, name: "M", rootPaths: [$path]}) '
        "{ ... on CreateLibraryPayload { library { id } } } }",
        key,
        path=str(folder),
    ).json()
    library_id = created["data"]["createLibrary"]["library"]["id"]
    subscribe = {
        "type": "subscribe",
        "payload": {
            "query": "subscription($id: ID!) { libraryScan(libraryId: $id) { status done } }",
            "variables": {"id": library_id},
        },
    }
    sockets = []
    with contextlib.ExitStack() as stack:
        for index in range(6):
            ws = stack.enter_context(
                connect(url.replace("http", "ws") + "/graphql", subprotocols=[WS_PROTOCOL])
            )
            sockets.append(ws)
            ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": key}}))
            assert json.loads(ws.recv(timeout=10)) == {"type": "connection_ack"}
            ws.send(json.dumps({**subscribe, "id": str(index)}))
        time.sleep(1.0)  # let every operation subscribe on its process's bus (not asserted)
        started = graphql(
            url,
            SCAN_LIBRARY,
            key,
            id=library_id,
        ).json()
        assert "errors" not in started, started
        for index, ws in enumerate(sockets):
            statuses = []
            while True:
                message = json.loads(ws.recv(timeout=30))
                assert message["id"] == str(index), message
                if message["type"] == "complete":
                    break
                assert message["type"] == "next", message
                statuses.append(message["payload"]["data"]["libraryScan"]["status"])
            assert statuses[-1] == "COMPLETED", statuses


def test_postgresql_restarted_under_a_running_cluster_recovers(tmp_path: Path) -> None:
    # An external PostgreSQL (a private one, so it can be stopped) under two server processes:
    # while it is down requests answer (errors, never a hang) and subscribers are told; once it
    # is back the pools, the bus's LISTEN connection and the job leadership recover by themselves.
    directory = tmp_path / "postgres"
    embedded = asyncio.run(start_embedded_postgres(directory))
    try:
        process, url, env = start_cluster(tmp_path, REVENGE_DATABASE_URL=embedded.url)
    except BaseException:
        embedded.stop()
        raise
    try:
        key = cli_admin_key(env)
        folder = tmp_path / "Movies"
        folder.mkdir()
        created = graphql(
            url,
            "mutation($path: String!) { createLibrary(input: "
            '{kind: MOVIES, name: "M", rootPaths: [$path]}) '
            "{ ... on CreateLibraryPayload { library { id } } } }",
            key,
            path=str(folder),
        ).json()
        library_id = created["data"]["createLibrary"]["library"]["id"]
        with contextlib.ExitStack() as stack:
            sockets = []
            for _ in range(4):
                ws = stack.enter_context(
                    connect(url.replace("http", "ws") + "/graphql", subprotocols=[WS_PROTOCOL])
                )
                ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": key}}))
                assert json.loads(ws.recv(timeout=10)) == {"type": "connection_ack"}
                ws.send(
                    json.dumps(
                        {
                            "id": "s",
                            "type": "subscribe",
                            "payload": {
                                "query": LIBRARY_SCAN,
                                "variables": {"id": library_id},
                            },
                        }
                    )
                )
                sockets.append(ws)
            time.sleep(1.0)  # every operation subscribed (not asserted)
            embedded.stop()

            # Subscribers are told: an error for the operation, or the socket closed.
            for ws in sockets:
                try:
                    message = json.loads(ws.recv(timeout=30))
                    assert message["type"] in ("error", "complete"), message
                except ConnectionClosed:
                    pass
            started = time.monotonic()
            down = graphql(url, "{ libraries { id } }", key)
            assert time.monotonic() - started < 15  # an answer, not a hang
            assert down.status_code in (200, 503), (down.status_code, down.text)
            assert down.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE", down.text
            assert httpx.get(url + "/health/ready", timeout=10).status_code == 503

            embedded = asyncio.run(start_embedded_postgres(directory))
        wait_all_ready(url, process, 2, seconds=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # each process's pool drops its dead connections
            answers = [graphql(url, "{ libraries { id } }", key).json() for _ in range(6)]
            if all("errors" not in answer for answer in answers):
                break
            time.sleep(0.5)
        assert all(answer["data"]["libraries"] == [{"id": library_id}] for answer in answers)
        scanned = graphql(url, SCAN_LIBRARY, key, id=library_id).json()
        assert "errors" not in scanned, scanned
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and status != "COMPLETED":
            time.sleep(0.3)
            answer = graphql(url, LATEST_SCAN, key, id=library_id).json()
            status = answer["data"]["library"]["latestScan"]["status"]
        assert status == "COMPLETED"
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
        assert process.returncode == 0, output
    finally:
        kill(process)
        embedded.stop()
