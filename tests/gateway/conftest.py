"""Shared helpers: the composed fixture subgraphs, the app under uvicorn, node scripts."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

from gateway.composition import ComposedSchema, compose
from gateway.graphql_http import graphql_routes
from infra.errors import Unauthenticated
from tests.gateway.fixture_subgraphs import SUBGRAPHS, FixtureContext

JS_DIR = Path(__file__).resolve().parents[1] / "js"


async def context_factory(connection: Any, connection_params: Any) -> FixtureContext:
    """Fresh loaders per request; a ``{"token": "bad"}`` connection_init is refused."""
    if isinstance(connection_params, dict) and connection_params.get("token") == "bad":
        raise Unauthenticated("Bad token")
    request_id = connection.headers.get("x-request-id", "req-test")
    return FixtureContext(request_id=request_id, connection_params=connection_params)


def make_app(composed: ComposedSchema, **options: Any) -> Starlette:
    options.setdefault("dev_mode", False)
    return Starlette(routes=graphql_routes(composed, context_factory, **options))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yields ``http://127.0.0.1:PORT``."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def composed() -> ComposedSchema:
    return compose(SUBGRAPHS)


@pytest.fixture(scope="session")
def server_url(composed: ComposedSchema) -> Iterator[str]:
    app = make_app(
        composed,
        connection_init_timeout=0.5,
        keepalive_seconds=0.2,
        allowed_origins=("https://app.example",),
    )
    with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """``npm ci`` in tests/js once, when its node_modules is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed for the JavaScript client tests")
    modules = JS_DIR / "node_modules"
    if not modules.is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=600
        )
    return modules


def run_node(script: str, *args: str, timeout: float = 120) -> Any:
    """Run ``tests/js/<script>`` and parse the JSON it prints on stdout."""
    completed = subprocess.run(
        ["node", script, *args], cwd=JS_DIR, capture_output=True, text=True, timeout=timeout
    )
    if completed.returncode != 0:
        raise AssertionError(f"{script} failed ({completed.returncode}):\n{completed.stderr}")
    return json.loads(completed.stdout)


@pytest.fixture
def app(pool: Any, database_url: str, tmp_path: Path) -> Iterator[Any]:
    """The real app (``create_app``) under uvicorn on a free port, on the test database, with
    its own data folder: ``Running(url, app)``."""
    from tests.gateway.test_app import running_app

    with running_app(database_url, tmp_path / "data") as running:
        yield running
