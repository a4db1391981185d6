"""REST routes that send bytes: catalog images and byte-range streams of media files.

``/stream/{file_id}`` is direct play. Starlette's ``FileResponse`` does the HTTP work (single,
suffix, open-ended and multi ranges, ``If-Range``, ``ETag``/``Last-Modified``, 206/416, and the
ASGI ``pathsend`` extension where the server offers it); this module decides *whether* to send and
*which* file: the caller is a signed URL (``?exp&uid&sig``, see ``infra.signing``) or normal
credentials, the file comes from the catalog by id under the caller's visibility, and problems are
JSON ``{code, message}``.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

import anyio
import structlog
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from gateway.auth import authenticate, credentials_from
from infra.authz.principal import Principal
from infra.errors import Forbidden, Unauthenticated
from infra.signing import DEFAULT_STREAM_URL_LIFETIME_SECONDS, StreamSigner
from resolvers.catalog.image_files import image_file_path
from resolvers.catalog.stream_files import StreamFile, stream_file
from resolvers.user.principals import profile_principal, stream_principal

__all__ = [
    "CONTENT_TYPES",
    "MAX_RANGES",
    "SignedLookups",
    "lookup_signed",
    "media_routes",
    "problem",
    "request_principal",
    "signed_key",
    "stream_signer",
    "stream_url",
]

log = structlog.get_logger("revenge.media")

# More ranges than any player sends; a header with hundreds is abuse (each costs a seek).
MAX_RANGES = 100
MAX_RANGE_HEADER = 8192

CONTENT_TYPES = {
    "mkv": "video/x-matroska",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "ts": "video/mp2t",
    "mpegts": "video/mp2t",
    "avi": "video/x-msvideo",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
}

_SIGNATURE_PARAMS = ("exp", "uid", "sig")
_IMAGE_SIGNATURE_PARAMS = ("exp", "uid", "pid", "sig")


def problem(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


async def image(request: Request) -> Response:
    """A catalog image for a principal who may see its item: a signed URL's user and profile
    (``infra.signing``), else the request's credentials. A signed answer may be cached by the
    browser until the URL expires; one by credentials is revalidated (its ETag) every time."""
    try:
        image_id = uuid.UUID(request.path_params["image_id"])
    except ValueError:
        return problem(400, "BAD_USER_INPUT", "image id is not valid")
    state = request.app.state
    params = request.query_params
    try:
        if any(name in params for name in _IMAGE_SIGNATURE_PARAMS):
            signed = {name: params[name] for name in _IMAGE_SIGNATURE_PARAMS if name in params}
            now = time.time()
            user_id, profile_id = stream_signer(request.app).verify_image(image_id, signed, now)
            principal = await profile_principal(state.database.pool, user_id, profile_id)
            if principal is None:
                raise Forbidden("the user or profile of this image URL is disabled or gone")
            cache = f"private, max-age={max(0, int(signed['exp']) - int(now))}"
        else:
            principal = await request_principal(request, image_id)
            cache = "private, no-cache"
    except Unauthenticated as error:
        return problem(401, error.code, "sign in or use a signed image URL")
    except Forbidden as error:
        log.info("image refused", reason=error.reason or error.message)
        return problem(403, error.code, error.message)
    visibility = await state.services["authz"].visibility(principal)
    path = await image_file_path(state.database.pool, image_id, visibility)
    if path is None:
        return problem(404, "NOT_FOUND", "image not found")
    try:
        stat_result = await asyncio.to_thread(os.stat, path)
    except OSError:
        return problem(404, "NOT_FOUND", "image file is missing")
    if not stat.S_ISREG(stat_result.st_mode):
        return problem(404, "NOT_FOUND", "image file is missing")
    response = FileResponse(path, stat_result=stat_result, headers={"Cache-Control": cache})
    if _etag_matches(request.headers.get("if-none-match"), response.headers["etag"]):
        kept = {name: response.headers[name] for name in ("etag", "last-modified")}
        return Response(status_code=304, headers={**kept, "Cache-Control": cache})
    return _StreamResponse(response)


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return etag in tags


def stream_signer(app: Starlette) -> StreamSigner:
    """The process's signer (``<data dir>/keys/stream-signing.key``), opened in the lifespan."""
    signer: StreamSigner = app.state.services["stream_signer"]
    return signer


def stream_url(
    file_id: uuid.UUID,
    user_id: str,
    signer: StreamSigner,
    *,
    lifetime_seconds: int = DEFAULT_STREAM_URL_LIFETIME_SECONDS,
    now: float | None = None,
) -> str:
    """``/stream/{file_id}?exp=…&uid=…&sig=…`` for a file the caller was just allowed to play
    (the caller checks visibility; the route re-checks the user on every request)."""
    expires_at = int(time.time() if now is None else now) + lifetime_seconds
    return signer.stream_path(file_id, user_id, expires_at)


SIGNED_LOOKUP_SECONDS = 10.0
REFRESH_AHEAD_SECONDS = 3.0

SignedLookup = Callable[[tuple[str, ...]], Awaitable[StreamFile | None]]


class SignedLookups:
    """Recent signed-URL lookups: a player seeking sends many range requests for one URL, and
    each would cost two database round trips. An entry lives ``SIGNED_LOOKUP_SECONDS``, so
    disabling a user or revoking a grant reaches open streams within that time, and never past
    the URL's own expiry. Keys are (file id, exp, uid, sig) as the URL spells them; the HLS
    routes keep their own, keyed by session id (``gateway.hls_routes.lookup_signed_hls``).

    ``load`` looks a URL up on a miss, once however many requests for it arrive meanwhile: a
    hundred readers opening one URL together (or coming back to it after the entry lapsed) wait
    for one lookup instead of queueing a hundred at the database pool. An entry in use is looked
    up again the same way, in the background, during its last ``REFRESH_AHEAD_SECONDS``: a
    player busy seeking never meets an expired entry. A lookup that refuses the URL
    (``Forbidden``) or finds nothing (file hidden or gone) removes the entry; one that fails
    otherwise leaves it to expire.

    Safe per process, with several ``revenge serve`` processes: an entry is a copy of what the
    database said at most ``SIGNED_LOOKUP_SECONDS`` ago (a refresh asks the database again), and
    each process verifies the URL's signature itself, so a revocation made through any process
    holds on every process within that bound; sharing the entries would save one lookup per
    process per URL, not make anything correct that is not already."""

    def __init__(
        self,
        lookup: SignedLookup | None = None,
        size: int = 4096,
        seconds: float = SIGNED_LOOKUP_SECONDS,
    ) -> None:
        self.lookup = lookup
        self.size = size
        self.seconds = seconds  # how long a lookup's answer stands (tests shorten it)
        # key -> (deadline on the monotonic clock, the file, whether a refresh can extend it)
        self.entries: OrderedDict[tuple[str, ...], tuple[float, StreamFile, bool]] = OrderedDict()
        self._loading: dict[tuple[str, ...], asyncio.Task[StreamFile | None]] = {}

    def get(self, key: tuple[str, ...]) -> StreamFile | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        left = entry[0] - time.monotonic()
        if left < 0:
            self.entries.pop(key, None)
            return None
        refresh = entry[2] and self.lookup is not None and key not in self._loading
        if left < min(REFRESH_AHEAD_SECONDS, self.seconds) and refresh:
            self._start(key).add_done_callback(_refresh_done)
        return entry[1]

    async def load(self, key: tuple[str, ...]) -> StreamFile | None:
        """The file a URL's key may play: the entry, else one lookup shared by every request
        that misses meanwhile (its answer is kept; its error, ``Forbidden`` included, reaches
        each of them)."""
        found = self.get(key)
        if found is not None or self.lookup is None:
            return found
        # A waiter that goes away (its client left) does not cancel the others' lookup.
        return await asyncio.shield(self._loading.get(key) or self._start(key))

    def _start(self, key: tuple[str, ...]) -> asyncio.Task[StreamFile | None]:
        assert self.lookup is not None
        task = asyncio.get_running_loop().create_task(self._load(key, self.lookup))
        self._loading[key] = task
        return task

    async def _load(self, key: tuple[str, ...], lookup: SignedLookup) -> StreamFile | None:
        try:
            found = await lookup(key)
        except Forbidden:
            self.entries.pop(key, None)
            raise
        finally:
            self._loading.pop(key, None)
        if found is None:
            self.entries.pop(key, None)
        else:  # the lookup verified the signature: the expiry is digits
            self.put(key, found, int(key[1]))
        return found

    def put(self, key: tuple[str, ...], found: StreamFile, expires_at: float) -> None:
        """``expires_at``: the URL's expiry, Unix seconds."""
        until_expiry = expires_at - time.time()
        lifetime = min(self.seconds, until_expiry)
        self.entries[key] = (time.monotonic() + lifetime, found, until_expiry > lifetime)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def close(self) -> None:
        for task in self._loading.values():
            task.cancel()


def _refresh_done(task: asyncio.Task[StreamFile | None]) -> None:
    """A background refresh's outcome, which nobody awaits: a failure is logged (the entry
    expires as it would have); a refusal already removed the entry."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None and not isinstance(error, Forbidden):
        log.warning("signed stream lookup refresh failed", exc_info=error)


async def lookup_signed(app: Starlette, key: tuple[str, ...]) -> StreamFile | None:
    """What a signed stream URL's key (file id, exp, uid, sig) may play now: the file, None
    when it is unknown or hidden from the URL's user; ``Forbidden`` when the signature is bad
    or expired, or the user disabled or gone."""
    file_id = uuid.UUID(key[0])
    principal = await signed_principal(
        app, file_id, dict(zip(_SIGNATURE_PARAMS, key[1:], strict=True))
    )
    visibility = await app.state.services["authz"].visibility(principal)
    return await stream_file(app.state.database.pool, file_id, visibility)


async def signed_principal(
    app: Starlette, file_id: uuid.UUID, params: Mapping[str, str], *, hls: bool = False
) -> Principal:
    """The user a signed URL's ``params`` (exp, uid, sig) speak for; ``Forbidden`` when the
    signature is bad or expired, or the user disabled or gone."""
    signer = stream_signer(app)
    verify = signer.verify_hls if hls else signer.verify_stream
    user_id = verify(file_id, params, time.time())
    principal = await stream_principal(app.state.database.pool, user_id)
    if principal is None:
        raise Forbidden("the user of this stream URL is disabled or gone")
    return principal


def signed_key(request: Request, file_id: uuid.UUID) -> tuple[str, ...] | None:
    """The cache key of a signed request (only a fully signed one; verified before caching)."""
    params = request.query_params
    if not all(name in params for name in _SIGNATURE_PARAMS):
        return None
    return (str(file_id), *(params[name] for name in _SIGNATURE_PARAMS))


async def request_principal(
    request: Request, file_id: uuid.UUID, *, hls: bool = False
) -> Principal:
    """Who asks: a signed URL when its parameters are present, else the request's credentials.
    ``hls``: the id is a transcode session's and the signature an HLS one."""
    state = request.app.state
    if any(name in request.query_params for name in _SIGNATURE_PARAMS):
        params = {name: request.query_params.get(name, "") for name in _SIGNATURE_PARAMS}
        return await signed_principal(request.app, file_id, params, hls=hls)
    token, api_key = credentials_from(request.headers)
    principal, _ = await authenticate(state.database.pool, state.services, token, api_key)
    if not principal.is_authenticated:
        raise Unauthenticated("sign in or use a signed stream URL")
    return principal


async def stream(request: Request) -> Response:
    try:
        file_id = uuid.UUID(request.path_params["file_id"])
    except ValueError:
        return problem(400, "BAD_USER_INPUT", "file id is not valid")
    key = signed_key(request, file_id)
    try:
        if key is not None:  # cached for a player's next seeks (``SignedLookups``)
            found = await request.app.state.signed_lookups.load(key)
        else:
            principal = await request_principal(request, file_id)
            visibility = await request.app.state.services["authz"].visibility(principal)
            found = await stream_file(request.app.state.database.pool, file_id, visibility)
    except Unauthenticated as error:
        return problem(401, error.code, error.message)
    except Forbidden as error:
        log.info("stream refused", reason=error.reason or error.message)
        return problem(403, error.code, error.message)
    if found is None:
        return problem(404, "NOT_FOUND", "file not found")
    return await _send(request, found)


async def _send(request: Request, found: StreamFile) -> Response:
    ranges = request.headers.get("range")
    if ranges is not None and (
        len(ranges) > MAX_RANGE_HEADER or ranges.count(",") + 1 > MAX_RANGES
    ):
        return problem(400, "BAD_USER_INPUT", f"at most {MAX_RANGES} ranges in one request")
    try:
        stat_result = await asyncio.to_thread(os.stat, found.path)
    except OSError:
        return problem(404, "NOT_FOUND", "file is missing on disk")
    if not stat.S_ISREG(stat_result.st_mode):
        return problem(404, "NOT_FOUND", "file is missing on disk")
    media_type = CONTENT_TYPES.get((found.container or "").lower(), "application/octet-stream")
    return _StreamResponse(
        _RangeFileResponse(
            found.path,
            stat_result=stat_result,
            media_type=media_type,
            headers={"Cache-Control": "private", "Accept-Ranges": "bytes"},
        )
    )


class _RangeFileResponse(FileResponse):
    """``FileResponse`` with a cheaper single range. A range is read in Python (no pathsend),
    and Starlette's reader makes a thread hop each for open, seek, every 64 KiB read and close;
    with a hundred players seeking on two cores those hops are most of the time to first byte.
    Here the open and the first read are one hop, each further 256 KiB one ``pread`` hop, and the
    close is immediate. Headers and range parsing stay Starlette's."""

    chunk_size = 256 * 1024

    async def _handle_single_range(
        self, send: Send, start: int, end: int, file_size: int, send_header_only: bool
    ) -> None:
        if send_header_only:
            await super()._handle_single_range(send, start, end, file_size, send_header_only)
            return
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["content-range"] = f"bytes {start}-{end - 1}/{file_size}"
        headers["content-length"] = str(end - start)
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        path, size = str(self.path), min(self.chunk_size, end - start)

        def open_and_read() -> tuple[int, bytes]:
            handle = os.open(path, os.O_RDONLY)
            try:
                return handle, os.pread(handle, size, start)
            except BaseException:
                os.close(handle)
                raise

        handle, chunk = await anyio.to_thread.run_sync(open_and_read)
        try:
            while True:
                start += len(chunk)
                more_body = len(chunk) == size and start < end  # short: the file shrank
                await send({"type": "http.response.body", "body": chunk, "more_body": more_body})
                if not more_body:
                    return
                size = min(self.chunk_size, end - start)
                chunk = await anyio.to_thread.run_sync(os.pread, handle, size, start)
        finally:
            os.close(handle)


class _StreamResponse(Response):
    """``FileResponse`` with its plain-text problems answered as JSON and a file that vanishes
    before the first byte answered 404 instead of a server error."""

    def __init__(self, inner: FileResponse) -> None:
        self.inner = inner
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = replaced = False

        async def relay(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start" and message["status"] in (400, 416):
                replaced = True
                started = True
                await _range_problem(message)(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
                await send(message)
                if message["status"] == 206:
                    # A range answer is read in Python (no pathsend): an empty first chunk makes
                    # servers that hold the head until the body (granian) send it now, so the
                    # player's time to first byte is not the time of the first read.
                    await send({"type": "http.response.body", "body": b"", "more_body": True})
                return
            await send(message)

        try:
            await self.inner(scope, receive, relay)
        except OSError as error:  # the file went away after the lookup, or the client did
            if not started:
                await problem(404, "NOT_FOUND", "file is missing on disk")(scope, receive, send)
                return
            log.info("stream ended early", error=str(error))


def _range_problem(start: Message) -> JSONResponse:
    if start["status"] == 416:
        content_range = next(
            (value.decode("latin-1") for key, value in start["headers"] if key == b"content-range"),
            "",
        )
        return problem(
            416,
            "RANGE_NOT_SATISFIABLE",
            "the range is outside the file",
            **{"Content-Range": content_range},
        )
    return problem(400, "BAD_USER_INPUT", "the Range header is malformed")


def media_routes() -> list[Route]:
    return [
        Route("/images/{image_id}", image, methods=["GET", "HEAD"]),
        Route("/stream/{file_id}", stream, methods=["GET", "HEAD"]),
    ]
