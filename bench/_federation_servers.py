"""The processes ``bench/federation.py`` compares, and what it reads about them from /proc.

``revenge serve`` and three ``revenge subgraph NAME`` processes are the CLI itself (the installed
``revenge`` script), so the benchmark measures what users run. The subgraphs' SDLs are read from
their ``_service`` field, as a router reads them, and composed by ``tests/js/compose.mjs``
(@theguild/federation-composition) with their real URLs into the supergraph Hive Gateway
(``@graphql-hive/gateway`` from ``tests/js``, locked) serves. Hive forwards the caller's
``x-api-key`` / ``authorization`` headers, because each subgraph authenticates the caller itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _support import ROOT

BIN = Path(sys.executable).parent
JS_DIR = ROOT / "tests" / "js"
HIVE_BIN = JS_DIR / "node_modules" / ".bin" / "hive-gateway"
SUBGRAPH_NAMES = ("catalog", "user", "playback")

# Hive's two modes: its defaults merge identical in-flight subgraph requests; "dedup-off" turns
# that off so every client request reaches the subgraphs, as in revenge serve.
HIVE_MODES = ("hive-dedup-off", "hive-default")

HIVE_CONFIG = """\
// Written by bench/federation.py for one Hive Gateway run.
export const gatewayConfig = {
  supergraph: './supergraph.graphql',
  logging: 'warn',
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({
      'x-api-key': request.headers.get('x-api-key'),
      authorization: request.headers.get('authorization'),
    }),
  },
  TRANSPORT
};
"""
NO_DEDUPLICATION = (
    "transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } },"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """One started server: its process (the root of the tree measured) and base URL."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path


def _start(name: str, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> Server:
    port = int(env["BENCH_PORT"])
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    return Server(name, process, f"http://127.0.0.1:{port}", log)


def revenge_env(environ: dict[str, str], port: int) -> dict[str, str]:
    return {
        **os.environ,
        **environ,
        "REVENGE_SERVER_HOST": "127.0.0.1",
        "REVENGE_SERVER_PORT": str(port),
        "BENCH_PORT": str(port),
    }


def serve_supports_workers() -> bool:
    """Whether this checkout's ``revenge serve`` takes ``--workers`` (multi-process serving)."""
    done = subprocess.run(
        [str(BIN / "revenge"), "serve", "--help"], capture_output=True, text=True, check=False
    )
    return "--workers" in done.stdout


def start_revenge_serve(environ: dict[str, str], folder: Path, workers: int | None) -> Server:
    port = free_port()
    command = [str(BIN / "revenge"), "serve"]
    if workers is not None:
        command += ["--workers", str(workers)]
    return _start("revenge", command, revenge_env(environ, port), ROOT, folder / "serve.log")


def start_subgraph(name: str, environ: dict[str, str], folder: Path) -> Server:
    port = free_port()
    command = [str(BIN / "revenge"), "subgraph", name, "--port", str(port), "--host", "127.0.0.1"]
    env = revenge_env(environ, port)
    return _start(f"subgraph-{name}", command, env, ROOT, folder / f"subgraph-{name}.log")


def compose_supergraph(subgraphs: dict[str, Server]) -> str:
    """The supergraph SDL of the running subgraphs, each at its real URL."""
    services = []
    for name, server in subgraphs.items():
        answer = httpx.post(
            f"{server.url}/graphql", json={"query": "{ _service { sdl } }"}, timeout=30
        )
        answer.raise_for_status()
        sdl = answer.json()["data"]["_service"]["sdl"]
        services.append({"name": name, "sdl": sdl, "url": f"{server.url}/graphql"})
    done = subprocess.run(
        ["node", "compose.mjs"],
        cwd=JS_DIR,
        input=json.dumps(services),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"compose.mjs failed: {done.stderr[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    if result["errors"]:
        raise SystemExit(f"the subgraphs do not compose: {result['errors']}")
    supergraph: str = result["supergraphSdl"]
    return supergraph


def hive_config(mode: str) -> str:
    """The ``gateway.config.mjs`` of one Hive mode (plain object: no import to resolve)."""
    if mode not in HIVE_MODES:
        raise ValueError(f"unknown Hive mode {mode!r}")
    transport = NO_DEDUPLICATION if mode == "hive-dedup-off" else ""
    return HIVE_CONFIG.replace("TRANSPORT", transport)


def start_hive(mode: str, supergraph: str, folder: Path, fork: int) -> Server:
    if not HIVE_BIN.exists():
        raise SystemExit(f"{HIVE_BIN} is missing: run ./dev bench federation (it runs npm ci)")
    work = folder / mode
    work.mkdir(parents=True, exist_ok=True)
    (work / "supergraph.graphql").write_text(supergraph, encoding="utf-8")
    (work / "gateway.config.mjs").write_text(hive_config(mode), encoding="utf-8")
    port = free_port()
    command = [
        str(HIVE_BIN),
        "supergraph",
        "supergraph.graphql",
        "--config-path",
        "gateway.config.mjs",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--fork",
        str(fork),
    ]
    env = {**os.environ, "BENCH_PORT": str(port), "NODE_ENV": "production"}
    return _start(mode, command, env, work, folder / f"{mode}.log")


def wait_ready(server: Server, path: str, deadline_s: float = 120) -> None:
    """Until ``GET path`` answers 200 (a subgraph's or the gateway's liveness probe)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-1500:]
            raise SystemExit(f"{server.name} exited ({server.process.returncode}):\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}{path}", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{server.name} did not come up (see {server.log})")


def stop(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def stopping() -> Iterator[list[Server]]:
    """Servers appended to the list are stopped, last first, when the block ends."""
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in reversed(started):
            stop(server)


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
