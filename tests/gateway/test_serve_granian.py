"""`revenge serve` under granian (embedded in the process's event loop), as an operator runs it:
HTTP, GraphQL over HTTP and graphql-transport-ws, a clean stop on SIGTERM, and a refusal to start
on a port something else already listens on."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.gateway.conftest import free_port
from tests.gateway.test_cli import REVENGE, clean_env, wait_ready


@pytest.fixture
def server_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return clean_env(
        REVENGE_DATA_DIR=str(tmp_path / "data"),
        REVENGE_DATABASE_URL=database_url,
        REVENGE_SERVER_PORT=str(free_port()),
    )


@pytest.fixture
def server(server_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    process = subprocess.Popen(
        [REVENGE, "serve"], env=server_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{server_env['REVENGE_SERVER_PORT']}"
    try:
        wait_ready(url, process)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def test_serves_http_graphql_and_websockets_then_stops_cleanly_on_sigterm(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = server
    live = httpx.get(url + "/health/live", timeout=5)
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert httpx.get(url + "/health/startup", timeout=5).json() == {"status": "ok"}

    answer = httpx.post(url + "/graphql", json={"query": "{ __typename }"}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"data": {"__typename": "Query"}}

    ws_url = url.replace("http://", "ws://") + "/graphql"
    with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=5) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "connection_ack"}
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}}
        ws.send(json.dumps(subscribe))
        assert json.loads(ws.recv(timeout=5)) == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"__typename": "Query"}},
        }
        assert json.loads(ws.recv(timeout=5)) == {"id": "1", "type": "complete"}

        # Stopped with a subscription connection still open: it must not hold the stop up.
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=10)[0].decode()

    assert process.returncode == 0, output
    assert "revenge is serving" in output
    # The lifespan's shutdown ran to its end (workers, transcoder, database closed).
    assert "revenge stopped" in output, output
    assert "Traceback" not in output, output
    assert "[WARNING]" not in output, output  # granian's own handler and experimental notice


def test_refuses_to_start_on_a_port_already_listened_on(
    server: tuple[subprocess.Popen[bytes], str], server_env: dict[str, str], tmp_path: Path
) -> None:
    # granian binds with SO_REUSEPORT: without a check a second server would share the port.
    second = subprocess.run(
        [REVENGE, "serve"],
        env={**server_env, "REVENGE_DATA_DIR": str(tmp_path / "second")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1, second.stderr
    assert "could not listen" in second.stderr
    process, url = server
    assert httpx.get(url + "/health/live", timeout=5).status_code == 200
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=10)
    assert process.returncode == 0
