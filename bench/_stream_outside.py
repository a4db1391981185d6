"""The two shapes an outside measurement of direct play used, for ``bench/stream.py``: a whole
file downloaded by curl with ``Range: bytes=0-`` (what a player asks first; the plain GET is
``stream.curl_speed``), and 50 httpx clients fetching random 1 MiB ranges at once, timed to the
first body byte.

The httpx clients run in a child process (``python bench/_stream_outside.py URL FILE CLIENTS
RANGES``): one ``httpx.AsyncClient`` with a connection per client, each client fetching
``RANGES`` random ranges one after another, every byte checked against the file. Time to first
byte is from the request's start to the first chunk of its body.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

RANGE_BYTES = 1024 * 1024
CURL_FORMAT = "%{http_code} %{size_download} %{speed_download}"


def curl_whole_range_speed(url: str, size: int) -> float:
    """MB/s (10^6 bytes) of one whole-file download asked as ``Range: bytes=0-``."""
    output = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-r", "0-", "-w", CURL_FORMAT, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if output[0] != "206" or int(float(output[1])) != size:
        raise SystemExit(f"bad bytes=0- download from {url}: {output}")
    return float(output[2]) / 1e6


def httpx_round(url: str, path: Path, clients: int, ranges: int) -> dict[str, Any]:
    """One run of the httpx child against ``url``: time to first byte (ms) of every range,
    and the errors."""
    with tempfile.TemporaryFile() as out:
        child = subprocess.run(
            [sys.executable, __file__, url, str(path), str(clients), str(ranges)],
            stdout=out,
            check=False,
        )
        out.seek(0)
        output = out.read()
    if child.returncode != 0:
        raise SystemExit(f"httpx clients against {url} failed (exit {child.returncode})")
    result: dict[str, Any] = json.loads(output)
    return result


def _main(url: str, path: str, clients: int, ranges: int) -> None:
    size = os.stat(path).st_size
    ttfb: list[float] = []
    errors: list[str] = []

    async def client_task(http: httpx.AsyncClient, fd: int, seed: int) -> None:
        chooser = random.Random(seed)
        for _ in range(ranges):
            start = chooser.randrange(0, size - RANGE_BYTES)
            header = {"range": f"bytes={start}-{start + RANGE_BYTES - 1}"}
            began = time.perf_counter()
            try:
                async with http.stream("GET", url, headers=header) as response:
                    received = bytearray()
                    first = None
                    async for chunk in response.aiter_raw():
                        if first is None and chunk:
                            first = time.perf_counter()
                        received += chunk
                expected = os.pread(fd, RANGE_BYTES, start)
                if response.status_code != 206 or received != expected or first is None:
                    errors.append(f"{response.status_code} {len(received)} bytes at {start}")
                else:
                    ttfb.append((first - began) * 1000)
            except httpx.HTTPError as error:
                errors.append(repr(error))

    async def run() -> None:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        fd = os.open(path, os.O_RDONLY)
        try:
            async with httpx.AsyncClient(limits=limits, timeout=60) as http:
                await asyncio.gather(*(client_task(http, fd, seed) for seed in range(clients)))
        finally:
            os.close(fd)

    asyncio.run(run())
    print(json.dumps({"ttfb_ms": ttfb, "errors": errors[:5], "error_count": len(errors)}))


if __name__ == "__main__":
    _url, _path, _clients, _ranges = sys.argv[1:5]
    _main(_url, _path, int(_clients), int(_ranges))
