"""``/remux/{file_id}``: a catalog file's video and one audio track, copied into fragmented MP4.

For players that decode the file's codecs but not its container. The bytes are made while they
are sent (``media.remux``), so the answer is a non-seekable stream: always 200 from the start,
``Accept-Ranges: none``, no length; a ``start`` position (ms) replaces seeking. Who may ask and
which file is answered exactly as ``/stream`` does (``gateway.media_routes``): a signed URL or
credentials, the file under the caller's visibility, problems as JSON ``{code, message}``.
Remuxes hold one of the process's slots (``playback.max_remuxes``, made in the lifespan); a full
house answers 503.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import uuid
from collections.abc import AsyncIterator

import av
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.media_routes import problem, request_principal
from infra.errors import Forbidden, Unauthenticated
from media.remux import MAX_START_MS, NotRemuxable, RemuxBusy, RemuxStream, StreamNotFound
from resolvers.catalog.stream_files import stream_file

__all__ = ["MAX_CONCURRENT_REMUXES", "remux_routes"]

log = structlog.get_logger("revenge.remux")

MAX_CONCURRENT_REMUXES = 4
RETRY_AFTER_SECONDS = "5"
HEADERS = {"Accept-Ranges": "none", "Cache-Control": "private"}
_AUDIO = re.compile(r"[0-9]{1,4}")
_START = re.compile(r"[0-9]{1,10}")


def remux_slots(app: Starlette) -> asyncio.Semaphore:
    """The process's bound on concurrent remuxes: the lifespan makes it from the settings; an
    app without one (a test's bare app) gets ``MAX_CONCURRENT_REMUXES``."""
    slots: asyncio.Semaphore | None = getattr(app.state, "remux_slots", None)
    if slots is None:
        slots = app.state.remux_slots = asyncio.Semaphore(MAX_CONCURRENT_REMUXES)
    return slots


def _parameter(request: Request, name: str, pattern: re.Pattern[str]) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not pattern.fullmatch(value):
        raise ValueError(f"{name} must be a non-negative integer")
    return int(value)


async def remux(request: Request) -> Response:
    try:
        file_id = uuid.UUID(request.path_params["file_id"])
    except ValueError:
        return problem(400, "BAD_USER_INPUT", "file id is not valid")
    try:
        audio = _parameter(request, "audio", _AUDIO)
        start = _parameter(request, "start", _START) or 0
    except ValueError as error:
        return problem(400, "BAD_USER_INPUT", str(error))
    if start > MAX_START_MS:
        return problem(400, "BAD_USER_INPUT", "start is at most 7 days (in ms)")
    try:
        principal = await request_principal(request, file_id)
    except Unauthenticated as error:
        return problem(401, error.code, error.message)
    except Forbidden as error:
        log.info("remux refused", reason=error.reason or error.message)
        return problem(403, error.code, error.message)
    visibility = await request.app.state.services["authz"].visibility(principal)
    found = await stream_file(request.app.state.database.pool, file_id, visibility)
    if found is None:
        return problem(404, "NOT_FOUND", "file not found")
    try:
        stat_result = await asyncio.to_thread(os.stat, found.path)
    except OSError:
        stat_result = None
    if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
        return problem(404, "NOT_FOUND", "file is missing on disk")
    if request.method == "HEAD":
        return StreamingResponse(_nothing(), media_type="video/mp4", headers=HEADERS)
    return await _start(request, found.path, audio, start)


async def _start(request: Request, path: str, audio: int | None, start: int) -> Response:
    stream = RemuxStream(path, audio_stream_index=audio, start_ms=start)
    try:
        await stream.start(remux_slots(request.app))
    except RemuxBusy:
        return problem(
            503, "BUSY", "too many remuxes at once", **{"Retry-After": RETRY_AFTER_SECONDS}
        )
    except StreamNotFound as error:
        return problem(400, "BAD_USER_INPUT", str(error))
    except NotRemuxable as error:
        return problem(422, "NOT_REMUXABLE", str(error))
    except FileNotFoundError:
        return problem(404, "NOT_FOUND", "file is missing on disk")
    except av.FFmpegError as error:
        log.info("remux unreadable file", error=str(error))
        return problem(422, "NOT_REMUXABLE", "the file cannot be read as media")
    return _RemuxResponse(stream)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


class _RemuxResponse(StreamingResponse):
    """A streaming response that always stops its remux: Starlette cancels the body task when
    the client leaves but never closes the iterator itself."""

    def __init__(self, stream: RemuxStream) -> None:
        super().__init__(stream, media_type="video/mp4", headers=HEADERS)
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.stream.aclose()


def remux_routes() -> list[Route]:
    return [Route("/remux/{file_id}", remux, methods=["GET", "HEAD"])]
