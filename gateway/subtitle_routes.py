"""REST routes for subtitle tracks: WebVTT for browsers, sidecar files as they are.

``/subtitles/{file_id}/{stream_index}.vtt`` converts any text track (embedded or sidecar) with
``media.subtitles.to_webvtt`` in a worker thread; ``/subtitles/{file_id}/{stream_index}`` sends a
sidecar's own bytes for players that render SRT/ASS themselves. Access is the stream route's: a
signed URL for the *file* (so a player's stream URL query string opens that file's subtitles too)
or credentials, then the file under the caller's visibility, then the track.

Extracting an embedded track reads the whole media file, and players fetch a track more than once
(on load, on a track switch, after a reload), so recent WebVTT documents stay in a small
in-process LRU bounded in bytes, keyed by the source file's size and mtime so an edited sidecar
is re-read; concurrent requests for the same track share one extraction.
"""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import structlog
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from gateway.media_routes import _StreamResponse, problem, request_principal
from infra.errors import Forbidden, Unauthenticated
from media.subtitles import NotTextSubtitle, SubtitleError, is_text_subtitle, to_webvtt
from resolvers.catalog.stream_files import stream_file
from resolvers.catalog.subtitle_files import SubtitleTrack, subtitle_track

__all__ = ["WEBVTT_CACHE_BYTES", "WebvttCache", "subtitle_routes", "webvtt_cache"]

log = structlog.get_logger("revenge.subtitles")

WEBVTT_CACHE_BYTES = 32 * 1024 * 1024
# Extractions at once: each is a thread reading a whole media file.
MAX_EXTRACTIONS = 2
MAX_STREAM_INDEX = 2**31 - 1

SIDECAR_CONTENT_TYPES = {
    ".srt": "application/x-subrip",
    ".ass": "text/x-ssa",
    ".ssa": "text/x-ssa",
    ".vtt": "text/vtt",
}

CacheKey = tuple[uuid.UUID, int, str, int, int]


@dataclass
class WebvttCache:
    """Recent WebVTT documents, least recently used first out once ``max_bytes`` is passed.

    ``extractions`` counts conversions actually run, so tests (and metrics) can tell a hit."""

    max_bytes: int = WEBVTT_CACHE_BYTES
    entries: OrderedDict[CacheKey, bytes] = field(default_factory=OrderedDict)
    size: int = 0
    extractions: int = 0
    pending: dict[CacheKey, asyncio.Future[bytes]] = field(default_factory=dict)
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_EXTRACTIONS))

    def get(self, key: CacheKey) -> bytes | None:
        body = self.entries.get(key)
        if body is not None:
            self.entries.move_to_end(key)
        return body

    def put(self, key: CacheKey, body: bytes) -> None:
        if len(body) > self.max_bytes or key in self.entries:
            return
        self.entries[key] = body
        self.size += len(body)
        while self.size > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.size -= len(evicted)

    async def webvtt(self, key: CacheKey, path: str, stream_index: int | None) -> bytes:
        """The document for ``key``: cached, being made by another request, or made now."""
        cached = self.get(key)
        if cached is not None:
            return cached
        pending = self.pending.get(key)
        if pending is None:
            pending = self.pending[key] = asyncio.ensure_future(
                self._extract(key, path, stream_index)
            )
            pending.add_done_callback(lambda done: _forget(self, key, done))
        return await asyncio.shield(pending)

    async def _extract(self, key: CacheKey, path: str, stream_index: int | None) -> bytes:
        async with self.slots:
            self.extractions += 1
            text = await asyncio.to_thread(to_webvtt, path, stream_index)
        body = text.encode("utf-8")
        self.put(key, body)
        return body


def _forget(cache: WebvttCache, key: CacheKey, done: asyncio.Future[bytes]) -> None:
    cache.pending.pop(key, None)
    if not done.cancelled():
        done.exception()  # retrieved here, so a failure nobody awaited is not logged as lost


def webvtt_cache(request: Request) -> WebvttCache:
    """The app's cache, made on first use (inside the running loop its semaphore needs)."""
    cache: WebvttCache | None = getattr(request.app.state, "webvtt_cache", None)
    if cache is None:
        cache = request.app.state.webvtt_cache = WebvttCache()
    return cache


@dataclass(frozen=True, slots=True)
class _Found:
    media_path: str
    track: SubtitleTrack


async def _find(request: Request) -> _Found | Response:
    """The caller's track, or the problem that answers instead (the stream route's rules)."""
    try:
        file_id = uuid.UUID(request.path_params["file_id"])
    except ValueError:
        return problem(400, "BAD_USER_INPUT", "file id is not valid")
    raw_index = request.path_params["stream_index"]
    if not (raw_index.isascii() and raw_index.isdigit()) or int(raw_index) > MAX_STREAM_INDEX:
        return problem(400, "BAD_USER_INPUT", "stream index is not valid")
    try:
        principal = await request_principal(request, file_id)
    except Unauthenticated as error:
        return problem(401, error.code, error.message)
    except Forbidden as error:
        log.info("subtitle refused", reason=error.reason or error.message)
        return problem(403, error.code, error.message)
    pool = request.app.state.database.pool
    visibility = await request.app.state.services["authz"].visibility(principal)
    found = await stream_file(pool, file_id, visibility)
    if found is None:
        return problem(404, "NOT_FOUND", "file not found")
    track = await subtitle_track(pool, file_id, int(raw_index))
    if track is None:
        return problem(404, "NOT_FOUND", "subtitle not found")
    return _Found(found.path, track)


async def _regular_file(path: str) -> os.stat_result | None:
    try:
        stat_result = await asyncio.to_thread(os.stat, path)
    except (OSError, ValueError):
        return None
    return stat_result if stat.S_ISREG(stat_result.st_mode) else None


async def webvtt(request: Request) -> Response:
    found = await _find(request)
    if isinstance(found, Response):
        return found
    track = found.track
    if not is_text_subtitle(track.codec):
        return problem(415, "NOT_TEXT_SUBTITLE", f"{track.codec} subtitles are not text")
    source = track.external_path if track.is_external else found.media_path
    if source is None or (stat_result := await _regular_file(source)) is None:
        return problem(404, "NOT_FOUND", "subtitle file is missing on disk")
    key = (track.file_id, track.stream_index, source, stat_result.st_size, stat_result.st_mtime_ns)
    index = None if track.is_external else track.stream_index
    try:
        body = await webvtt_cache(request).webvtt(key, source, index)
    except NotTextSubtitle as error:
        return problem(415, "NOT_TEXT_SUBTITLE", str(error))
    except SubtitleError as error:
        log.info("subtitle unreadable", file_id=str(track.file_id), error=str(error))
        return problem(422, "UNREADABLE_SUBTITLE", str(error))
    except OSError:
        return problem(404, "NOT_FOUND", "subtitle file is missing on disk")
    except Exception:  # a decoder surprise is still a bad track, not a server error
        log.exception("subtitle conversion failed", file_id=str(track.file_id))
        return problem(422, "UNREADABLE_SUBTITLE", "the subtitle track cannot be read")
    mpegts = request.query_params.get("mpegts")
    if mpegts is not None:
        # As an HLS rendition beside MPEG-TS segments: the cue times are the source's, and the
        # segments' timestamps start later (``media.hls.transcode.OFFSET_TICKS``); the map
        # tells the player how the two line up (RFC 8216 section 3.5).
        if not (mpegts.isascii() and mpegts.isdigit()) or int(mpegts) >= 2**33:
            return problem(400, "BAD_USER_INPUT", "mpegts must be a 33-bit timestamp")
        header, _, rest = body.partition(b"\n")
        body = (
            header + f"\nX-TIMESTAMP-MAP=MPEGTS:{int(mpegts)},LOCAL:00:00:00.000\n".encode() + rest
        )
    return Response(
        body, media_type="text/vtt; charset=utf-8", headers={"Cache-Control": "private"}
    )


async def sidecar(request: Request) -> Response:
    found = await _find(request)
    if isinstance(found, Response):
        return found
    path = found.track.external_path
    if not found.track.is_external or path is None:
        return problem(404, "NOT_FOUND", "this subtitle is inside the media file; ask for .vtt")
    stat_result = await _regular_file(path)
    if stat_result is None:
        return problem(404, "NOT_FOUND", "subtitle file is missing on disk")
    response = FileResponse(path, stat_result=stat_result, headers={"Cache-Control": "private"})
    # As it is on disk, in whatever encoding that is: no charset claimed.
    content_type = SIDECAR_CONTENT_TYPES.get(os.path.splitext(path)[1].lower())
    response.headers["content-type"] = content_type or "application/octet-stream"
    return _StreamResponse(response)


def subtitle_routes() -> list[Route]:
    return [
        Route("/subtitles/{file_id}/{stream_index}.vtt", webvtt, methods=["GET", "HEAD"]),
        Route("/subtitles/{file_id}/{stream_index}", sidecar, methods=["GET", "HEAD"]),
    ]
