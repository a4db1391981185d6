"""The seek path of ``/stream``: a player's next range of a URL already looked up, answered in
front of everything else.

A player seeking sends range after range for one signed URL. The first request goes the whole
way (``gateway.media_routes.stream``: signature, user, visibility, catalog), which leaves the
answer in ``SignedLookups``. Every later single-range ``GET`` of that URL is answered here, before
the middleware and the router: the open file comes from ``OpenFiles`` and the bytes from one
``pread`` in a worker thread, so a seek costs a thread hop and the send. What this path does not
answer (no or several ranges, ``If-Range``, a range past the end, ``HEAD``, an unknown or expired
URL, a file that changed) goes on to the route, which answers exactly as before.

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

__all__ = ["OpenFiles", "PageCache", "StreamSeeks"]

log = structlog.get_logger("revenge.media")

CHUNK_BYTES = 256 * 1024
REVALIDATE_SECONDS = 1.0
IDLE_SECONDS = 30.0
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
        "checked",
        "etag",
        "fd",
        "identity",
        "last_modified",
        "mapped",
        "retired",
        "size",
        "used",
        "users",
    )

    def __init__(self, fd: int, info: os.stat_result) -> None:
        self.fd = fd
        self.size = info.st_size
        self.mapped = _PAGE_CACHE.map(fd, info.st_size)  # only asked about, never read
        self.identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        # As Starlette's FileResponse makes them, so both paths answer alike.
        base = f"{info.st_mtime}-{info.st_size}".encode()
        self.etag = f'"{md5(base, usedforsecurity=False).hexdigest()}"'
        self.last_modified = formatdate(info.st_mtime, usegmt=True)
        self.checked = self.used = time.monotonic()
        self.users = 0
        self.retired = False

    def release(self) -> None:
        self.users -= 1
        if self.retired and self.users == 0:
            self.close()

    def close(self) -> None:
        if self.mapped is not None:
            _PAGE_CACHE.unmap(self.mapped, self.size)
            self.mapped = None
        os.close(self.fd)


class OpenFiles:
    """Open files by path, checked against the path at most every ``REVALIDATE_SECONDS``: a file
    replaced, grown or deleted is noticed within that time (as nginx's ``open_file_cache``).
    A retired file closes when its last reader is done; ``sweep`` (every few seconds, from the
    lifespan) closes files nobody read for ``IDLE_SECONDS``, so a deleted file's space comes
    back."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: OrderedDict[str, _OpenFile] = OrderedDict()

    async def acquire(self, path: str) -> _OpenFile | None:
        """The open file at ``path`` (release it after), or None when it is missing or not a
        regular file."""
        entry = self.entries.get(path)
        if entry is not None and time.monotonic() - entry.checked < REVALIDATE_SECONDS:
            entry.users += 1
            entry.used = time.monotonic()
            return entry
        loop = asyncio.get_running_loop()
        try:
            info = await loop.run_in_executor(None, os.stat, path)
        except OSError:
            self._retire(path)
            return None
        entry = self.entries.get(path)  # another request may have refreshed it meanwhile
        identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if entry is None or entry.identity != identity:
            if not stat.S_ISREG(info.st_mode):
                self._retire(path)
                return None
            try:
                fd = await loop.run_in_executor(None, os.open, path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._retire(path)
                return None
            opened = _OpenFile(fd, await loop.run_in_executor(None, os.fstat, fd))
            self._retire(path)
            entry = self.entries[path] = opened
            while len(self.entries) > self.size:
                self._retire(next(iter(self.entries)))
        entry.checked = entry.used = time.monotonic()
        self.entries.move_to_end(path)
        entry.users += 1
        return entry

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

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith("/stream/")
            and await self._answer(scope, send)
        ):
            return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        state = getattr(scope.get("app"), "state", None)
        lookups: SignedLookups | None = getattr(state, "signed_lookups", None)
        open_files: OpenFiles | None = getattr(state, "open_files", None)
        if lookups is None or open_files is None:
            return False
        params = _signed_params(scope["query_string"])
        if params is None:
            return False
        found = lookups.get((scope["path"][len("/stream/") :], *params))
        if found is None:
            return False
        wanted: tuple[int, int | None] | None = None
        for name, value in scope["headers"]:
            if name == b"range":
                match = _SINGLE_RANGE.fullmatch(value)
                if match is None or wanted is not None:
                    return False
                wanted = int(match[1]), int(match[2]) if match[2] else None
            elif name == b"if-range":
                return False
        if wanted is None:
            return False
        opened = await open_files.acquire(found.path)
        if opened is None:
            return False
        try:
            start, last = wanted
            last = opened.size - 1 if last is None else min(last, opened.size - 1)
            if start > last:
                return False  # the route answers 416
            media_type = CONTENT_TYPES.get((found.container or "").lower())
            headers = [
                (b"content-type", (media_type or "application/octet-stream").encode()),
                (b"accept-ranges", b"bytes"),
                (b"cache-control", b"private"),
                (b"etag", opened.etag.encode()),
                (b"last-modified", opened.last_modified.encode()),
                (b"content-range", f"bytes {start}-{last}/{opened.size}".encode()),
                (b"content-length", str(last - start + 1).encode()),
            ]
            await send({"type": "http.response.start", "status": 206, "headers": headers})
            await _send_body(send, opened, start, last + 1)
        finally:
            opened.release()
        return True


async def _send_body(send: Send, opened: _OpenFile, start: int, end: int) -> None:
    """``[start, end)`` of ``fd``, a chunk at a time: copied on the loop when the page cache
    holds it, else read in a worker thread. A file that shrank meanwhile ends the body early,
    a client that left ends it quietly."""
    loop = asyncio.get_running_loop()
    # An empty first chunk makes servers that hold the head until the body (granian) send it
    # now: the player's time to first byte is not the time of the first read.
    await send({"type": "http.response.body", "body": b"", "more_body": True})
    try:
        while True:
            size = min(CHUNK_BYTES, end - start)
            if _PAGE_CACHE.resident(opened.mapped, opened.size, start, size):
                chunk = os.pread(opened.fd, size, start)
            else:
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
