"""The seek path of ``/stream``: a player's next range of a URL already looked up, answered in
front of everything else.

A player seeking sends range after range for one signed URL. The first request goes the whole
way (``gateway.media_routes.stream``: signature, user, visibility, catalog), which leaves the
answer in ``SignedLookups``. Every later ``GET`` of that URL with one range or none (the whole
file: copying it here is faster than granian's ``pathsend``, measured) is answered here, before
the middleware and the router: the open file comes from ``OpenFiles``, and the bytes are copied
on the event loop when the page cache holds them (``PageCache``), else read in a worker thread.
What this path does not answer (several ranges, ``If-Range``, a range past the end or
reversed, ``HEAD``, an unknown or expired URL, a file gone) goes on to the route, which answers
exactly as before.

Answers carry the headers the route's ``FileResponse`` gives (``ETag``, ``Last-Modified``,
``Content-Range``…), computed the same way; a test compares the two.
"""

from __future__ import annotations

import asyncio
import ctypes
import mmap
import os
import re
import stat
import time
from collections import OrderedDict
from email.utils import formatdate
from hashlib import md5

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.media_routes import CONTENT_TYPES, SignedLookups
from infra.metrics import Metrics
from resolvers.catalog.stream_files import StreamFile

__all__ = ["OpenFiles", "PageCache", "StreamSeeks"]

log = structlog.get_logger("revenge.media")

CHUNK_BYTES = 256 * 1024
REVALIDATE_SECONDS = 1.0
IDLE_SECONDS = 30.0
WHOLE_FILE_BYTES = 4 * 1024**3
_SINGLE_RANGE = re.compile(rb"bytes=(\d{1,19})-(\d{0,19})")


class PageCache:
    """Whether a byte range of an open file is in the page cache: ``mincore`` on a read-only
    mapping of the whole file that is never touched, so nothing is read through it. A chunk in
    memory is copied on the event loop (tens of microseconds); one that needs the disk is read in
    a worker thread so the loop never waits for it. (``preadv2`` with ``RWF_NOWAIT`` would say
    the same in one call, but buffered reads refuse it on some file systems, this machine's ext4
    among them.) Where ``mincore`` cannot be called, every chunk goes to a thread."""

    def __init__(self) -> None:
        self.page = mmap.PAGESIZE
        self._bit = bytes(value & 1 for value in range(256))  # bits 1-7 are reserved
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._mmap, self._munmap, self._mincore = libc.mmap, libc.munmap, libc.mincore
        except (OSError, AttributeError):
            self.available = False
            return
        self._mmap.restype = ctypes.c_void_p
        self._mmap.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int64,
        ]
        self._munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self._mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        self.available = True

    def map(self, fd: int, size: int) -> int | None:
        """A mapping of the file's first ``size`` bytes to ask about, or None."""
        if not self.available or size <= 0:
            return None
        address = self._mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        return None if address is None or address == _MAP_FAILED else int(address)

    def unmap(self, address: int, size: int) -> None:
        self._munmap(address, size)

    def whole(self, address: int | None, size: int) -> bool:
        """Whether all of a mapped file is in memory; only asked for files up to
        ``WHOLE_FILE_BYTES`` (the answer needs a byte per page), in a worker thread."""
        if address is None or not 0 < size <= WHOLE_FILE_BYTES:
            return False
        return self.resident(address, size, 0, size)

    def resident(self, address: int | None, size: int, start: int, length: int) -> bool:
        """Whether ``[start, start + length)`` of the mapped file is in memory."""
        if address is None or length <= 0 or start + length > size:
            return False
        base = start - start % self.page
        span = start + length - base
        pages = bytearray((span + self.page - 1) // self.page)
        vector = (ctypes.c_ubyte * len(pages)).from_buffer(pages)
        failed = self._mincore(address + base, span, vector)
        del vector
        return failed == 0 and 0 not in pages.translate(self._bit)


_MAP_FAILED = ctypes.c_void_p(-1).value
_PAGE_CACHE = PageCache()


class _OpenFile:
    """An open media file shared by the requests reading it (``pread`` has no position)."""

    __slots__ = (
        "_headers",
        "checked",
        "checking",
        "etag",
        "fd",
        "identity",
        "last_modified",
        "mapped",
        "resident",
        "retired",
        "size",
        "used",
        "users",
    )

    def __init__(self, fd: int, info: os.stat_result) -> None:
        self.fd = fd
        self.size = info.st_size
        self.mapped = _PAGE_CACHE.map(fd, info.st_size)  # only asked about, never read
        self.identity = _identity(info)
        # As Starlette's FileResponse makes them, so both paths answer alike.
        base = f"{info.st_mtime}-{info.st_size}".encode()
        self.etag = f'"{md5(base, usedforsecurity=False).hexdigest()}"'
        self.last_modified = formatdate(info.st_mtime, usegmt=True)
        self._headers: tuple[str | None, list[tuple[bytes, bytes]]] | None = None
        self.checked = self.used = time.monotonic()
        self.checking = False
        # All of the file was in the page cache when last checked (at most REVALIDATE_SECONDS
        # ago): its chunks are read on the loop without asking page by page.
        self.resident = False
        self.users = 0
        self.retired = False

    def headers(self, container: str | None) -> list[tuple[bytes, bytes]]:
        """The headers every range of this file shares (for the catalog's container)."""
        if self._headers is None or self._headers[0] != container:
            media_type = CONTENT_TYPES.get((container or "").lower(), "application/octet-stream")
            shared = [
                (b"content-type", media_type.encode()),
                (b"accept-ranges", b"bytes"),
                (b"cache-control", b"private"),
                (b"etag", self.etag.encode()),
                (b"last-modified", self.last_modified.encode()),
            ]
            self._headers = (container, shared)
        return self._headers[1]

    def release(self) -> None:
        self.users -= 1
        if self.retired and self.users == 0:
            self.close()

    def close(self) -> None:
        if self.mapped is not None:
            _PAGE_CACHE.unmap(self.mapped, self.size)
            self.mapped = None
        os.close(self.fd)


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _inspect(path: str, entry: _OpenFile) -> tuple[os.stat_result | None, bool]:
    """In a worker thread: the path's status (None when gone or not a regular file) and,
    when it is still ``entry``'s file, whether all of it is in the page cache."""
    try:
        info = os.stat(path)
    except OSError:
        return None, False
    if not stat.S_ISREG(info.st_mode):
        return None, False
    return info, _identity(info) == entry.identity and _PAGE_CACHE.whole(entry.mapped, entry.size)


def _open(path: str) -> _OpenFile | None:
    """In a worker thread: the regular file at ``path``, opened, mapped and checked."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        opened = _OpenFile(fd, info)
    except BaseException:
        os.close(fd)
        raise
    opened.resident = _PAGE_CACHE.whole(opened.mapped, opened.size)
    return opened


class OpenFiles:
    """Open files by path, checked against the path at most every ``REVALIDATE_SECONDS``: a file
    replaced, grown or deleted is noticed within that time (as nginx's ``open_file_cache``).
    A retired file closes when its last reader is done; ``sweep`` (every few seconds, from the
    lifespan) closes files nobody read for ``IDLE_SECONDS``, so a deleted file's space comes
    back."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: OrderedDict[str, _OpenFile] = OrderedDict()
        # path -> the open in progress, shared by the requests that find no entry meanwhile
        self._opening: dict[str, asyncio.Task[_OpenFile | None]] = {}

    def fresh(self, path: str) -> _OpenFile | None:
        """The open file at ``path`` when no check is due (release it after), else None:
        ``acquire`` then checks it."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        now = time.monotonic()
        if not entry.checking and now - entry.checked >= REVALIDATE_SECONDS:
            return None
        entry.users += 1
        entry.used = now
        return entry

    async def acquire(self, path: str) -> _OpenFile | None:
        """The open file at ``path`` (release it after), or None when it is missing or not a
        regular file. One request at a time checks a file; the others read on meanwhile."""
        fresh = self.fresh(path)
        if fresh is not None:
            return fresh
        entry = self.entries.get(path)
        if entry is None:
            return await self._open(path)
        entry.checking = True
        entry.users += 1  # its mapping stays while the thread asks about it
        try:
            info, resident = await asyncio.get_running_loop().run_in_executor(
                None, _inspect, path, entry
            )
        finally:
            entry.checking = False
            entry.release()
        if info is None:
            self._retire(path)
            return None
        if entry.retired or entry.identity != _identity(info):
            return await self._open(path)
        entry.resident = resident
        entry.checked = entry.used = time.monotonic()
        entry.users += 1
        return entry

    async def _open(self, path: str) -> _OpenFile | None:
        """``path`` opened as its entry: once for every request that asks meanwhile (a hundred
        readers starting on one file would otherwise open and map it a hundred times). The
        open finishes, and its file is kept or closed, even when the requests leave first."""
        opening = self._opening.get(path)
        if opening is None:
            opening = asyncio.get_running_loop().create_task(self._open_once(path))
            self._opening[path] = opening
        opened = await asyncio.shield(opening)
        if opened is None or opened.retired:  # gone, or replaced meanwhile: the route answers
            return None
        opened.users += 1
        return opened

    async def _open_once(self, path: str) -> _OpenFile | None:
        try:
            opened = await asyncio.get_running_loop().run_in_executor(None, _open, path)
        except OSError:
            opened = None
        finally:
            self._opening.pop(path, None)
        self._retire(path)
        if opened is not None:
            self.entries[path] = opened
            while len(self.entries) > self.size:
                self._retire(next(iter(self.entries)))
        return opened

    def sweep(self) -> None:
        """Close the files nobody read for ``IDLE_SECONDS``."""
        idle_since = time.monotonic() - IDLE_SECONDS
        for path in [path for path, entry in self.entries.items() if entry.used < idle_since]:
            self._retire(path)

    async def sweep_forever(self, interval: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    def _retire(self, path: str) -> None:
        entry = self.entries.pop(path, None)
        if entry is not None:
            entry.retired = True
            if entry.users == 0:
                entry.close()

    def close(self) -> None:
        for path in list(self.entries):
            self._retire(path)


class StreamSeeks:
    """ASGI middleware, outermost: answers the seeks of looked-up signed stream URLs."""

    def __init__(
        self, app: ASGIApp, lookups: SignedLookups, open_files: OpenFiles, metrics: Metrics
    ) -> None:
        self.app = app
        self.lookups = lookups
        self.open_files = open_files
        # Counted as the request-id middleware counts the requests it sees (bound once: a
        # label lookup per seek would cost more than the count).
        self._served = metrics.http_requests.labels("GET", "/stream/{file_id}", "206")
        self._served_whole = metrics.http_requests.labels("GET", "/stream/{file_id}", "200")
        self._duration = metrics.http_duration.labels("GET", "/stream/{file_id}")
        # (path, query string) as sent -> the lookup key: a player repeats its URL.
        self._keys: dict[tuple[str, bytes], tuple[str, str, str, str] | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"][:8] == "/stream/":
            started = time.perf_counter()
            wanted = _wanted(scope["headers"])
            key = None if wanted is None else self._key(scope)
            found = None if key is None else self.lookups.get(key)
            if found is None and key is not None:  # not seen lately: one lookup for all asking
                found = await self._load(key)
            if found is not None and wanted is not None:
                start, last, ranged = wanted
                opened = self.open_files.fresh(found.path)
                if opened is None:  # first use, or due for its check
                    opened = await self.open_files.acquire(found.path)
                if opened is not None:
                    try:
                        # Else the route answers: 416 past the end, 400 reversed.
                        if start < opened.size and (last is None or start <= last):
                            try:
                                await _send_range(
                                    send, opened, found.container, start, last, ranged=ranged
                                )
                            finally:
                                (self._served if ranged else self._served_whole).inc()
                                self._duration.observe(time.perf_counter() - started)
                            return
                    finally:
                        opened.release()
        await self.app(scope, receive, send)

    def _key(self, scope: Scope) -> tuple[str, str, str, str] | None:
        """The lookup key of a signed URL (file id, exp, uid, sig as sent), or None."""
        sent = (scope["path"], scope["query_string"])
        if sent in self._keys:
            return self._keys[sent]
        params = _signed_params(sent[1])
        key = None if params is None else (sent[0][8:], *params)  # after "/stream/"
        if len(self._keys) >= 4096:
            self._keys.clear()
        self._keys[sent] = key
        return key

    async def _load(self, key: tuple[str, str, str, str]) -> StreamFile | None:
        """The file of a URL not in ``SignedLookups``, or None: the route then answers, with
        its own lookup, whatever went wrong (bad signature, user disabled, file hidden, the
        database away) as it always does."""
        try:
            return await self.lookups.load(key)
        except Exception:  # the route reports it
            return None


def _wanted(headers: list[tuple[bytes, bytes]]) -> tuple[int, int | None, bool] | None:
    """(start, last, ranged) of a request without ``If-Range``: its one ``Range:
    bytes=start-[last]``, or the whole file, ``(0, None, False)``, when it has no ``Range``;
    None for anything else."""
    wanted: tuple[int, int | None, bool] | None = None
    for name, value in headers:
        if name == b"range":
            match = _SINGLE_RANGE.fullmatch(value)
            if match is None or wanted is not None:
                return None
            wanted = int(match[1]), int(match[2]) if match[2] else None, True
        elif name == b"if-range":
            return None
    return wanted or (0, None, False)


async def _send_range(
    send: Send,
    opened: _OpenFile,
    container: str | None,
    start: int,
    last: int | None,
    *,
    ranged: bool = True,
) -> None:
    """Bytes ``start``..``last`` (inclusive; None: to the end, clamped to it) of an open file,
    a chunk at a time: copied on the loop when the page cache holds them, else read in a worker
    thread; not ``ranged``: the whole file as a 200. A file that shrank meanwhile ends the body
    early, a client that left ends it quietly."""
    end = opened.size if last is None else min(last + 1, opened.size)
    headers = [*opened.headers(container), (b"content-length", str(end - start).encode())]
    if ranged:
        headers.append((b"content-range", f"bytes {start}-{end - 1}/{opened.size}".encode()))
    status = 206 if ranged else 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    loop = None
    try:
        while True:
            size = min(CHUNK_BYTES, end - start)
            if opened.resident or _PAGE_CACHE.resident(opened.mapped, opened.size, start, size):
                chunk = os.pread(opened.fd, size, start)
            else:
                if loop is None:
                    loop = asyncio.get_running_loop()
                    # The disk may take a while: an empty chunk makes servers that hold the
                    # head until the body (granian) send it now, so the player's time to first
                    # byte is not the time of the read.
                    await send({"type": "http.response.body", "body": b"", "more_body": True})
                chunk = await loop.run_in_executor(None, os.pread, opened.fd, size, start)
            start += len(chunk)
            more = len(chunk) == size and start < end
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                return
    except OSError as error:  # the client went away (or the disk failed) mid-body
        log.info("stream ended early", error=str(error))


def _signed_params(query: bytes) -> tuple[str, str, str] | None:
    """``exp``, ``uid`` and ``sig`` of a query string holding exactly those, or None."""
    values: dict[bytes, bytes] = {}
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        values[name] = value
    if len(values) != 3:
        return None
    try:
        return values[b"exp"].decode(), values[b"uid"].decode(), values[b"sig"].decode()
    except (KeyError, UnicodeDecodeError):
        return None
