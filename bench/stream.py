"""Direct-play benchmark: ``/stream/{file_id}`` of the real app against nginx on the same file.

A ~300 MB ``.mkv`` (random bytes, generated once and cached under ``/tmp``) is served on
127.0.0.1 by nginx (installed from Debian when missing; ``sendfile on``, a config written to a
temporary folder) and by the real app (``create_app`` on a fresh embedded PostgreSQL holding a
library, an item and a ``media_files`` row for the file; the URL is a signed stream URL) as
``revenge serve`` runs it (the ``revenge serve`` command itself: ``gateway.http_server.serve_app``,
granian embedded, which offers the ASGI ``pathsend`` extension), and for reference under uvicorn
(``gateway.http_server.serve_uvicorn``, the fallback, without ``pathsend``). Every server is a child
process of this script, stopped at the end.

Figures:
- single-stream throughput: the whole file downloaded N times per server with curl, servers
  alternated; medians in MB/s and the ratio of each Revenge server to nginx;
- the shapes of an outside measurement (``bench/_stream_outside.py``): the same curl
  downloads asked as ``Range: bytes=0-`` (a player's first request), alternated with the plain
  GET, medians and ratios to nginx; and 50 httpx clients fetching random 1 MiB ranges at once,
  one run per server per round, servers alternated: p50/p95 time to first body byte and errors;
- 100 concurrent range readers seeking at random (a child process: this script with
  ``--readers``), each fetching random 256 KiB ranges on its own keep-alive connection and
  checking every byte against the file, one run per server per round, servers alternated:
  errors, p50/p95 time to the response head and p95 time to the first body byte over every
  request of every round, and the server's RSS (its whole process tree): the first round's
  growth (the working set of a hundred ranges in flight) and the drift from after the first
  round to after the last.
- the same 100 connections driven by wrk (C, from Debian; installed when missing) for
  ``--wrk-seconds`` per server per round, random 256 KiB ranges from a Lua script: p50/p95/p99
  latency (request sent to response complete, an upper bound of the time to first byte), ranges
  per second, errors and the RSS drift over the rounds, medians over the rounds. The Python
  readers check every byte but share this 2-core machine with the server (about 0.1 ms of CPU a
  range); wrk's connections cost a fraction of that, leaving the servers the machine.

Targets (issue 4): throughput >= 0.8 x nginx; 0 errors, p95 time to first byte <= 20 ms (judged
on the first body byte for the readers), memory flat (RSS after the last round at most 4 MiB
above after the first; less is memory given back).

    ./dev bench stream [--size-mb 300] [--rounds 5] [--readers 100] [--ranges 20] [--wrk-seconds 8]
        [--httpx-clients 50] [--httpx-ranges 10] [--skip-load (only curl and httpx)]

The servers are named ``revenge`` (as deployed) and ``uvicorn`` (reference) in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

import httpx
from _stream_outside import curl_whole_range_speed, httpx_round
from _support import ROOT, figure, median, percentile

CACHE = Path(os.environ.get("REVENGE_BENCH_CACHE", "/tmp/revenge-bench-media"))
RANGE_BYTES = 256 * 1024
TARGET_RATIO = 0.8
TARGET_TTFB_P95_MS = 20.0
FLAT_RSS_MIB = 4.0  # RSS after the last round at most this above after the first: "memory flat"
BIN = Path(sys.executable).parent
CURL_FORMAT = "%{http_code} %{size_download} %{speed_download}"


# --- the app for the uvicorn reference (in its own process: this script with --serve-uvicorn) -


def make_app() -> Any:
    """The real app as ``revenge serve`` builds it, configured by the ``REVENGE_*`` variables
    the benchmark sets (database URL of the embedded PostgreSQL, data dir holding the key)."""
    from gateway.app import create_app
    from gateway.serve import tune_garbage_collector
    from infra.logging import configure_logging
    from infra.settings import load_settings

    configure_logging("warning")
    environ = {name: value for name, value in os.environ.items() if name.startswith("REVENGE_")}

    async def on_started(app: Any) -> None:
        tune_garbage_collector()  # as `revenge serve` does once it is up

    return create_app(load_settings(environ), on_started=on_started)


# --- the file ----------------------------------------------------------------------------------


def media_file(size_mb: int) -> Path:
    """A cached file of random bytes (throughput does not care what the bytes are)."""
    path = CACHE / f"stream-{size_mb}mb" / "Throughput Test (2024).mkv"
    size = size_mb * 1024 * 1024
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        for _ in range(size_mb // 8):
            out.write(os.urandom(8 * 1024 * 1024))
        out.write(os.urandom(size - out.tell()))
    partial.rename(path)
    return path


# --- child processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _quiet(command: list[str]) -> int:
    return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if _quiet(["apt-get", "install", "-y", "-q", "wrk"]) != 0:
        _quiet(["apt-get", "update", "-q"])
        if _quiet(["apt-get", "install", "-y", "-q", "wrk"]) != 0:
            raise SystemExit("could not install wrk from Debian")
    return shutil.which("wrk") or "/usr/bin/wrk"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if found:
        return found
    install = ["apt-get", "install", "-y", "-q", "nginx-light"]
    quiet = _quiet

    if quiet(install) != 0:
        quiet(["apt-get", "update", "-q"])
        if quiet(install) != 0 and quiet([*install[:-1], "nginx"]) != 0:
            raise SystemExit("could not install nginx from Debian")
    return shutil.which("nginx") or "/usr/sbin/nginx"


def start_nginx(folder: Path, work: Path, port: int) -> subprocess.Popen[bytes]:
    prefix = work / "nginx"
    prefix.mkdir()
    temp = {name: prefix / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    config = prefix / "nginx.conf"
    config.write_text(
        f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    types {{ video/x-matroska mkv; }}
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    server {{
        listen 127.0.0.1:{port};
        root {folder};
        location / {{ }}
    }}
}}
"""
    )
    command = [nginx_binary(), "-p", str(prefix), "-c", str(config), "-e", str(prefix / "err.log")]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


SERVERS = ("revenge", "uvicorn")


def start_revenge(server: str, port: int, environ: dict[str, str]) -> subprocess.Popen[bytes]:
    """``revenge``: the ``revenge serve`` command, so the benchmark runs exactly what is
    deployed; ``uvicorn``: the same app under ``gateway.http_server.serve_uvicorn`` (this script
    with ``--serve-uvicorn``)."""
    bench = str(Path(__file__).resolve().parent)
    env = {
        **os.environ,
        **environ,
        "PYTHONPATH": os.pathsep.join([bench, str(ROOT)]),
        "REVENGE_SERVER_HOST": "127.0.0.1",
        "REVENGE_SERVER_PORT": str(port),
    }
    if server == "revenge":
        command = [str(BIN / "revenge"), "serve"]
    else:
        command = [sys.executable, __file__, "--serve-uvicorn"]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)


def serve_uvicorn_main() -> int:
    from gateway.serve import serve_uvicorn
    from infra.settings import load_settings

    environ = {name: value for name, value in os.environ.items() if name.startswith("REVENGE_")}
    return serve_uvicorn(make_app(), load_settings(environ))


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    deadline_s: float = 60,
    *,
    headers: dict[str, str] | None = None,
    status: int = 206,
) -> None:
    """Until ``GET url`` answers ``status`` (by default: a one-byte range of the file)."""
    headers = {"range": "bytes=0-0"} if headers is None else headers
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server for {url} exited ({process.returncode})")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=headers, timeout=2).status_code == status:
                return
        time.sleep(0.1)
    raise SystemExit(f"server for {url} did not come up")


def tree_rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants (nginx serves from a worker process)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        family.update(children)
        frontier.extend(children)
    total = 0
    for member in family:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


# --- the database rows and the signed URL -----------------------------------------------------


@contextlib.asynccontextmanager
async def revenge_rows(path: Path, data_dir: Path) -> AsyncIterator[tuple[str, str]]:
    """A fresh embedded PostgreSQL with a library, an item and the file; yields the database
    URL and a signed ``/stream/...`` path for an administrator."""
    from gateway.media_routes import stream_url
    from infra.database import _start_embedded, create_pool
    from infra.migrations import migrate_up
    from infra.signing import StreamSigner
    from resolvers.user.accounts import create_user
    from tests.support.catalog_rows import insert_file, insert_item, insert_library

    size = (await asyncio.to_thread(path.stat)).st_size
    embedded = await asyncio.to_thread(_start_embedded, data_dir.parent / "postgres")
    try:
        pool = await create_pool(embedded.url, 1, 2)
        try:
            async with pool.acquire() as conn:
                await migrate_up(conn)
                user = await create_user(conn, "owner", "correct horse battery", ("admin",))
            library = await insert_library(pool, root_paths=[str(path.parent)])
            item = await insert_item(pool, library, "Throughput Test")
            file_id = await insert_file(pool, item, library, str(path), size=size, container="mkv")
        finally:
            await pool.close()
        signer = StreamSigner.open(data_dir / "keys" / "stream-signing.key")
        yield embedded.url, stream_url(file_id, str(user["id"]), signer, lifetime_seconds=86400)
    finally:
        await asyncio.to_thread(embedded.stop)


# --- measurements ------------------------------------------------------------------------------


def curl_speed(url: str, size: int) -> float:
    """MB/s (10^6 bytes) of one whole-file download."""
    output = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", CURL_FORMAT, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if output[0] != "200" or int(float(output[1])) != size:
        raise SystemExit(f"bad download from {url}: {output}")
    return float(output[2]) / 1e6


class _RangeConnection(asyncio.BufferedProtocol):
    """One reader's keep-alive connection: the response is received straight into a buffer
    kept for the connection (no copies of the body in Python), the time of the head's end and
    of the first body byte noted as they arrive."""

    def __init__(self) -> None:
        self.buffer = bytearray(RANGE_BYTES + 16 * 1024)  # the body and a head
        self.view = memoryview(self.buffer)
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] | None = None
        self.received = 0
        self.head_end = -1
        self.length = -1
        self.status = ""
        self.began = self.head_at = self.body_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def ask(self, request: bytes) -> asyncio.Future[None]:
        assert self.transport is not None
        self.received, self.head_end, self.length, self.status = 0, -1, -1, ""
        self.head_at = self.body_at = 0.0
        self.done = asyncio.get_running_loop().create_future()
        self.began = time.perf_counter()
        self.transport.write(request)
        return self.done

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.received == len(self.buffer):  # more than a head and the range: fail the read
            raise ValueError("response larger than the range asked for")
        return self.view[self.received :]

    def buffer_updated(self, nbytes: int) -> None:
        now = time.perf_counter()
        self.received += nbytes
        if self.head_end < 0:
            end = self.buffer.find(b"\r\n\r\n", 0, self.received)
            if end < 0:
                return
            self.head_at, self.head_end = now, end + 4
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            self.status = lines[0].split(" ", 2)[1]
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    self.length = int(value)
        if not self.body_at and self.received > self.head_end:
            self.body_at = now
        if self.received - self.head_end >= self.length and self.done and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc or ConnectionResetError("connection closed"))


def readers_main(url: str, path: str, readers: int, ranges: int) -> None:
    """The child: ``readers`` tasks, each on its own keep-alive connection fetching ``ranges``
    random ranges and checking them against the file; prints JSON. Raw HTTP/1.1 received into
    a buffer per connection (``_RangeConnection``): the readers share this 2-core machine with
    the server, and every copy they make of a body is time the server does not get. (httpx
    queued and parsed so much in Python that its time to first byte was its own, even against
    nginx; asyncio streams copied each body three times.)"""
    size = os.path.getsize(path)
    parsed = urlsplit(url)
    target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    ttfb: list[float] = []
    ttfb_body: list[float] = []
    errors: list[str] = []

    async def reader(fd: int, seed: int) -> None:
        rng = random.Random(seed)
        expected = bytearray(RANGE_BYTES)
        loop = asyncio.get_running_loop()
        connection: _RangeConnection | None = None
        try:
            for _ in range(ranges):
                start = rng.randrange(0, size - RANGE_BYTES)
                try:
                    if connection is None:
                        _, connection = await loop.create_connection(_RangeConnection, host, port)
                    await connection.ask(
                        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        f"Range: bytes={start}-{start + RANGE_BYTES - 1}\r\n\r\n".encode()
                    )
                    os.preadv(fd, [expected], start)
                    body = connection.head_end
                    if (
                        connection.status != "206"
                        or connection.length != RANGE_BYTES
                        or connection.buffer[body : body + RANGE_BYTES] != expected
                    ):
                        errors.append(f"{connection.status} {connection.length} bytes at {start}")
                    else:
                        ttfb.append((connection.head_at - connection.began) * 1000)
                        ttfb_body.append((connection.body_at - connection.began) * 1000)
                except (OSError, ValueError) as error:
                    errors.append(repr(error))
                    if connection is not None and connection.transport is not None:
                        connection.transport.close()
                    connection = None
        finally:
            if connection is not None and connection.transport is not None:
                connection.transport.close()

    async def run() -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            await asyncio.gather(*(reader(fd, seed) for seed in range(readers)))
        finally:
            os.close(fd)

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())
    print(
        json.dumps(
            {
                "ttfb_ms": ttfb,
                "ttfb_body_ms": ttfb_body,
                "errors": errors[:5],
                "error_count": len(errors),
            }
        )
    )


def readers_round(url: str, path: Path, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run of the readers child against ``url``; the server's RSS before, peak and after."""
    before = tree_rss_kib(pid)
    counts = [str(args.readers), str(args.ranges)]
    with tempfile.TemporaryFile() as out:  # a pipe would fill up before the child ends
        child = subprocess.Popen(
            [sys.executable, __file__, "--readers", url, str(path), *counts], stdout=out
        )
        peak = before
        while child.poll() is None:
            peak = max(peak, tree_rss_kib(pid))
            time.sleep(0.05)
        out.seek(0)
        output = out.read()
    if child.returncode != 0:
        raise SystemExit(f"readers against {url} failed (exit {child.returncode})")
    result: dict[str, Any] = json.loads(output)
    result.update(before=before, peak=peak, after=tree_rss_kib(pid))
    return result


def wrk_figures(name: str, runs: list[dict[str, float]]) -> dict[str, float]:
    """Medians over the rounds (errors summed); each round's p95 and the server's RSS after
    each round printed as well, and the RSS drift from the first round to the last."""
    per_round = " ".join(f"{run['p95']:.1f}" for run in runs)
    print(f"# {name} wrk p95 per round (ms): {per_round}", flush=True)
    rss = " ".join(f"{run['rss_after'] / 1024:.1f}" for run in runs)
    print(f"# {name} rss after each wrk round (MiB): {rss}", flush=True)
    result = {key: median([run[key] for run in runs]) for key in ("p50", "p95", "p99", "rps")}
    result["errors"] = sum(run["errors"] for run in runs)
    result["drift"] = (runs[-1]["rss_after"] - runs[0]["rss_after"]) / 1024
    figure(f"stream.{name}.wrk_rss_drift", result["drift"], "MiB")
    for key in ("p50", "p95", "p99"):
        figure(f"stream.{name}.wrk_latency_{key}", result[key], "ms")
    figure(f"stream.{name}.wrk_ranges_per_second", result["rps"], "1/s")
    figure(f"stream.{name}.wrk_errors", result["errors"], "errors")
    return result


def readers_figures(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    ttfb = [value for run in runs for value in run["ttfb_ms"]] or [float("nan")]
    body = [value for run in runs for value in run["ttfb_body_ms"]] or [float("nan")]
    errors = sum(run["error_count"] for run in runs)
    before, after = runs[0]["before"], runs[-1]["after"]
    peak = max(run["peak"] for run in runs)
    print(f"stream.{name}.readers_errors {errors} errors", flush=True)
    for run in runs:
        if run["errors"]:
            print(f"# {name} errors: {run['errors']}", flush=True)
    per_round = " ".join(
        f"{percentile(run['ttfb_ms'] or [float('nan')], 0.95):.1f}" for run in runs
    )
    print(f"# {name} ttfb p95 per round (ms): {per_round}", flush=True)
    rss = " ".join(f"{run['after'] / 1024:.1f}" for run in runs)
    print(f"# {name} rss after each round (MiB): {rss}", flush=True)
    figure(f"stream.{name}.readers_ttfb_p50", median(ttfb), "ms")
    figure(f"stream.{name}.readers_ttfb_p95", percentile(ttfb, 0.95), "ms")
    figure(f"stream.{name}.readers_first_body_byte_p95", percentile(body, 0.95), "ms")
    figure(f"stream.{name}.rss_before", before / 1024, "MiB")
    figure(f"stream.{name}.rss_peak", peak / 1024, "MiB")
    figure(f"stream.{name}.rss_after", after / 1024, "MiB")
    # The first round's growth is the working set (a hundred ranges in flight); "flat" is about
    # what follows: RSS after the last round against after the first.
    drift = (after - runs[0]["after"]) / 1024
    figure(f"stream.{name}.readers_rss_working_set", (runs[0]["after"] - before) / 1024, "MiB")
    figure(f"stream.{name}.readers_rss_drift", drift, "MiB")
    return {
        "errors": errors,
        "p95": percentile(ttfb, 0.95),
        "body_p95": percentile(body, 0.95),
        "drift": drift,
        "peak_growth": (peak - before) / 1024,
    }


# wrk (C, from Debian) as the second instrument: the Python readers above check every byte,
# but on this 2-core machine their own receiving and comparing takes CPU the servers would
# otherwise have. wrk's connections cost a fraction of that. Its latency is request sent to
# response complete (head and 256 KiB body), an upper bound of the time to first byte.
WRK_SCRIPT = """
local size = tonumber(os.getenv("RANGE_FILE_SIZE"))
local chunk = RANGE_BYTES
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(seed * 7919)
end
function request()
  local start = math.random(0, size - chunk - 1)
  return wrk.format("GET", nil, {Range = "bytes=" .. start .. "-" .. (start + chunk - 1)})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %d %d %d %d %d %d %d\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
""".replace("RANGE_BYTES", str(RANGE_BYTES))


def wrk_round(
    wrk: str, script: Path, url: str, pid: int, size: int, args: argparse.Namespace
) -> dict[str, float]:
    """One wrk run against ``url``: latency percentiles (ms), requests per second, errors, and
    the RSS of the server (``pid`` and its children) after it."""
    command = [wrk, "-t2", f"-c{args.readers}", f"-d{args.wrk_seconds}s", "-s", str(script), url]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "RANGE_FILE_SIZE": str(size)},
        check=False,
    )
    line = next((row for row in done.stdout.splitlines() if row.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk against {url} failed: {done.stderr[-500:]}")
    p50, p95, p99, requests, duration_us, status, socket_errors = map(int, line.split()[1:])
    return {
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
        "rps": requests / (duration_us / 1e6),
        "errors": status + socket_errors,
        "rss_after": tree_rss_kib(pid),
    }


@contextlib.contextmanager
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in reversed(started):
            stop(process)


async def run(args: argparse.Namespace) -> None:
    t = time.perf_counter()
    path = media_file(args.size_mb)
    size = path.stat().st_size
    figure("stream.file_size", size / 1e6, "MB")
    servers = list(SERVERS)
    with tempfile.TemporaryDirectory(prefix="revenge-bench-stream-") as work_dir:
        work = Path(work_dir)
        data_dir = work / "data"
        async with revenge_rows(path, data_dir) as (database_url, signed_path):
            environ = {
                "REVENGE_DATABASE_URL": database_url,
                "REVENGE_DATA_DIR": str(data_dir),
                "REVENGE_LOG_LEVEL": "warning",
            }
            with children() as started:
                nginx_port = free_port()
                started.append(start_nginx(path.parent, work, nginx_port))
                urls = {"nginx": f"http://127.0.0.1:{nginx_port}/{quote(path.name)}"}
                pids = {}
                for server in servers:
                    port = free_port()
                    process = start_revenge(server, port, environ)
                    started.append(process)
                    urls[server] = f"http://127.0.0.1:{port}{signed_path}"
                    pids[server] = process.pid
                for process, url in zip(started, urls.values(), strict=True):
                    await asyncio.to_thread(wait_ready, url, process)
                figure("stream.setup_seconds", time.perf_counter() - t, "s")

                speeds: dict[str, list[float]] = {name: [] for name in urls}
                from_zero: dict[str, list[float]] = {name: [] for name in urls}
                for url in urls.values():  # warm-up: page cache, connections, imports
                    await asyncio.to_thread(curl_speed, url, size)
                for _ in range(args.rounds):  # a plain GET, then bytes=0- (a player's first)
                    for name, url in urls.items():
                        speeds[name].append(await asyncio.to_thread(curl_speed, url, size))
                        from_zero[name].append(
                            await asyncio.to_thread(curl_whole_range_speed, url, size)
                        )
                medians = {name: median(values) for name, values in speeds.items()}
                zero = {name: median(values) for name, values in from_zero.items()}
                for name in urls:
                    figure(f"stream.{name}.throughput_median", medians[name], "MB/s")
                    figure(f"stream.{name}.throughput_bytes_0_median", zero[name], "MB/s")
                ratios = {name: medians[name] / medians["nginx"] for name in servers}
                zero_ratios = {name: zero[name] / zero["nginx"] for name in servers}
                for name in servers:
                    figure(f"stream.{name}.ratio_to_nginx", ratios[name], "x")
                    figure(f"stream.{name}.bytes_0_ratio_to_nginx", zero_ratios[name], "x")
                print(f"# curl MB/s per round: {json.dumps(speeds)}", flush=True)
                print(f"# curl bytes=0- MB/s per round: {json.dumps(from_zero)}", flush=True)

                pids["nginx"] = started[0].pid
                ttfbs: dict[str, list[float]] = {name: [] for name in urls}
                outside_errors = dict.fromkeys(urls, 0)
                for _ in range(args.rounds):  # 50 httpx clients, random 1 MiB ranges
                    for name in urls:
                        result = await asyncio.to_thread(
                            httpx_round, urls[name], path, args.httpx_clients, args.httpx_ranges
                        )
                        ttfbs[name].extend(result["ttfb_ms"])
                        outside_errors[name] += result["error_count"]
                        if result["errors"]:
                            print(f"# {name} httpx errors: {result['errors']}", flush=True)
                outside = {
                    name: (median(ttfbs[name]), percentile(ttfbs[name], 0.95)) for name in urls
                }
                for name in urls:
                    figure(f"stream.{name}.httpx_1mib_ttfb_p50", outside[name][0], "ms")
                    figure(f"stream.{name}.httpx_1mib_ttfb_p95", outside[name][1], "ms")
                    print(f"stream.{name}.httpx_1mib_errors {outside_errors[name]} errors")
                if args.skip_load:
                    _outside_summary(args, size, medians, zero, outside, outside_errors)
                    return

                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in urls}
                for _ in range(args.rounds):  # nginx first: what this client and machine allow
                    for name in urls:
                        runs[name].append(
                            await asyncio.to_thread(
                                readers_round, urls[name], path, pids[name], args
                            )
                        )
                readers = {name: readers_figures(name, runs[name]) for name in urls}

                wrk = wrk_binary()
                script = work / "ranges.lua"
                script.write_text(WRK_SCRIPT)
                loads: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
                for _ in range(args.rounds):
                    for name in urls:
                        loads[name].append(
                            await asyncio.to_thread(
                                wrk_round,
                                wrk,
                                script,
                                urls[name].replace(" ", "%20"),
                                pids[name],
                                size,
                                args,
                            )
                        )
                load = {name: wrk_figures(name, loads[name]) for name in urls}
                deployed = started[list(urls).index("revenge")]
                stop(deployed)  # `revenge serve` exits 0 on SIGTERM (uvicorn re-raises it)
                if deployed.returncode != 0:
                    print(f"# revenge serve exited with {deployed.returncode}", flush=True)
    _outside_summary(args, size, medians, zero, outside, outside_errors)
    parts = [f"summary stream file={size / 1e6:.0f}MB rounds={args.rounds}"]
    parts.append(f"nginx={medians['nginx']:.0f} MB/s")
    for name in servers:
        met = ratios[name] >= TARGET_RATIO
        parts.append(
            f"{name}={medians[name]:.0f} MB/s ({ratios[name]:.2f} x nginx, target >= "
            f"{TARGET_RATIO}: {'met' if met else 'MISSED'})"
        )
    for name in ["nginx", *servers]:
        r = readers[name]
        ok = r["errors"] == 0 and r["body_p95"] <= TARGET_TTFB_P95_MS and r["drift"] <= FLAT_RSS_MIB
        parts.append(
            f"{name} {args.readers} readers: errors={r['errors']} head_p95={r['p95']:.1f} ms "
            f"first_body_byte_p95={r['body_p95']:.1f} ms rss_drift={r['drift']:+.1f} MiB "
            f"peak={r['peak_growth']:+.1f} MiB (target 0 errors, first body byte p95 <= "
            f"{TARGET_TTFB_P95_MS:.0f} ms, RSS flat: {'met' if ok else 'MISSED'})"
        )
    print("; ".join(parts), flush=True)
    parts = [f"summary stream.wrk {args.readers} connections, random 256 KiB ranges, medians of "
             f"{args.rounds} rounds of {args.wrk_seconds} s"]  # fmt: skip
    for name in ["nginx", *servers]:
        r = load[name]
        ok = r["errors"] == 0 and r["p95"] <= TARGET_TTFB_P95_MS and r["drift"] <= FLAT_RSS_MIB
        parts.append(
            f"{name}: p50={r['p50']:.1f} ms p95={r['p95']:.1f} ms p99={r['p99']:.1f} ms "
            f"{r['rps']:.0f} ranges/s ({r['rps'] / load['nginx']['rps']:.2f} x nginx) "
            f"errors={r['errors']:.0f} rss_drift={r['drift']:+.1f} MiB (target p95 <= "
            f"{TARGET_TTFB_P95_MS:.0f} ms, RSS flat: {'met' if ok else 'MISSED'})"
        )
    print("; ".join(parts), flush=True)


def _outside_summary(
    args: argparse.Namespace,
    size: int,
    plain: dict[str, float],
    zero: dict[str, float],
    outside: dict[str, tuple[float, float]],
    errors: dict[str, int],
) -> None:
    """The shapes of the outside measurement: curl (plain GET and bytes=0-) and httpx ranges."""
    parts = [
        f"summary stream.outside file={size / 1e6:.0f}MB rounds={args.rounds}, curl whole file "
        f"(plain GET / bytes=0-), {args.httpx_clients} httpx clients x {args.httpx_ranges} "
        f"random 1 MiB ranges per round"
    ]
    for name in ["nginx", *SERVERS]:
        ratio = min(plain[name] / plain["nginx"], zero[name] / zero["nginx"])
        met = "" if name == "nginx" else f" (>= {TARGET_RATIO} x nginx: "
        met += "" if name == "nginx" else ("met)" if ratio >= TARGET_RATIO else "MISSED)")
        parts.append(
            f"{name}: {plain[name]:.0f} / {zero[name]:.0f} MB/s ({plain[name] / plain['nginx']:.2f}"
            f" / {zero[name] / zero['nginx']:.2f} x nginx){met} httpx ttfb p50="
            f"{outside[name][0]:.1f} ms p95={outside[name][1]:.1f} ms errors={errors[name]}"
        )
    print("; ".join(parts), flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--readers"]:
        url, path, readers, ranges = sys.argv[2:6]
        readers_main(url, path, int(readers), int(ranges))
        return
    if sys.argv[1:2] == ["--serve-uvicorn"]:
        raise SystemExit(serve_uvicorn_main())
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--ranges", type=int, default=20)
    parser.add_argument("--wrk-seconds", type=int, default=8)
    parser.add_argument("--httpx-clients", type=int, default=50)
    parser.add_argument("--httpx-ranges", type=int, default=10)
    parser.add_argument(
        "--skip-load", action="store_true", help="only curl and the httpx clients (no readers, wrk)"
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
