"""The load of ``bench/federation.py``, in its own process (``python bench/_federation_client.py``).

A small HTTP/1.1 client on asyncio streams, so the client spends as little of the machine's two
cores as it can (httpx costs about a millisecond a request in Python, which would go missing from
the servers' share): one keep-alive connection per lane, the request bytes built once, answers
read by ``Content-Length`` or chunked. Every answer is checked: HTTP 200 and the same ``data`` as
the first one, which itself must hold a full page of ``userData``.

    latency URL KEY REQUESTS WARMUP          sequential requests: the times in ms
    throughput URL KEY SECONDS WARMUP LANES  LANES connections for SECONDS: requests, seconds

The answer is one JSON object on stdout, ``total`` counting the warm-up too (the CPU a server
spent is read around the whole run).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

# The benchmark's query: a page of movies from the catalog subgraph, each with its userData from
# the playback subgraph (a second subgraph request for Hive, an entity batch for revenge).
ITEMS_QUERY = (
    "query Items { items(kinds: [MOVIE], first: 50) { totalCount nodes "
    "{ id kind title sortTitle year userData { isPlayed positionMs isFavorite } } } }"
)
PAGE = 50


class Connection:
    """One keep-alive connection that sends the same POST again and again."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes):
        self.reader, self.writer, self.request = reader, writer, request

    @classmethod
    async def open(cls, url: str, key: str, body: bytes) -> Connection:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/graphql-response+json, application/json\r\n"
            f"x-api-key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return cls(reader, writer, head.encode() + body)

    async def ask(self) -> bytes:
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            body = await self._chunked()
        else:
            start = lower.index(b"content-length:") + 15
            length = int(lower[start : lower.index(b"\r\n", start)])
            body = await self.reader.readexactly(length)
        if status != 200:
            raise SystemExit(f"HTTP {status}: {body[:500]!r}")
        return body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(chunk[:-2])

    def close(self) -> None:
        self.writer.close()


class Checker:
    """Every answer must carry the data of the first; the first must be a full page."""

    def __init__(self) -> None:
        self.first: bytes | None = None
        self.data: Any = None

    def check(self, body: bytes) -> None:
        if body == self.first:
            return
        answer = json.loads(body)
        if answer.get("errors"):
            raise SystemExit(f"GraphQL errors: {answer['errors']}")
        if self.first is None:
            nodes = answer["data"]["items"]["nodes"]
            if len(nodes) != PAGE or any(node["userData"] is None for node in nodes[:10]):
                raise SystemExit(f"not a page of {PAGE} movies with userData: {body[:300]!r}")
            self.first, self.data = body, answer["data"]
        elif answer["data"] != self.data:
            raise SystemExit(f"an answer differs from the first: {body[:300]!r}")


async def latency(url: str, key: str, requests: int, warmup: int) -> dict[str, Any]:
    body = json.dumps({"query": ITEMS_QUERY}).encode()
    checker = Checker()
    connection = await Connection.open(url, key, body)
    times: list[float] = []
    for _ in range(warmup):
        checker.check(await connection.ask())
    for _ in range(requests):
        started = time.perf_counter()
        answer = await connection.ask()
        times.append((time.perf_counter() - started) * 1000)
        checker.check(answer)
    connection.close()
    return {"times": times, "total": warmup + requests}


async def throughput(url: str, key: str, seconds: float, warmup: int, lanes: int) -> dict[str, Any]:
    body = json.dumps({"query": ITEMS_QUERY}).encode()
    checker = Checker()
    connections = [await Connection.open(url, key, body) for _ in range(lanes)]
    counts = [0] * lanes

    async def warm(connection: Connection) -> None:
        for _ in range(warmup):
            checker.check(await connection.ask())

    async def timed(index: int, until: float) -> None:
        while time.perf_counter() < until:
            checker.check(await connections[index].ask())
            counts[index] += 1

    await asyncio.gather(*(warm(connection) for connection in connections))
    started = time.perf_counter()
    await asyncio.gather(*(timed(i, started + seconds) for i in range(lanes)))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return {"requests": sum(counts), "seconds": elapsed, "total": sum(counts) + warmup * lanes}


def main(argv: list[str]) -> None:
    mode, url, key, *rest = argv
    if mode == "latency":
        result = asyncio.run(latency(url, key, int(rest[0]), int(rest[1])))
    elif mode == "throughput":
        result = asyncio.run(throughput(url, key, float(rest[0]), int(rest[1]), int(rest[2])))
    else:
        raise SystemExit(f"unknown client mode {mode!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
