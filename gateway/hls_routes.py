"""``/hls/{session}/…``: a transcode session's playlists and segments.

The master playlist lists the session's ladder and its text subtitles (WebVTT renditions);
each variant playlist lists every segment up front (VOD). The URIs inside carry the master's
signature (``?exp&uid&sig``, an HLS signature over the session id), so a player that can't send
headers follows them as they are.

A segment comes from the worker that encodes the variant. No live encoder run: this gateway
starts one (``request_run``) and defers a ``transcode`` job, then waits for a worker to claim it.
The run is this process's own (``revenge serve``'s in-process worker): the transcoder answers
from local disk. Another process's: the request is proxied to that worker's
``/internal/hls/…``, which answers the same way — so any gateway replica serves any session.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import httpx
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.media_routes import problem, request_principal, signed_key, stream_signer
from infra.errors import Forbidden, Unauthenticated
from media.hls.playlists import (
    SubtitleRendition,
    master_playlist,
    subtitle_playlist,
    variant_playlist,
)
from media.hls.transcode import OFFSET_TICKS
from media.subtitles import is_text_subtitle
from resolvers.catalog.stream_files import StreamFile, stream_file
from resolvers.catalog.subtitle_files import subtitle_path
from resolvers.playback.profiles import active_profile_id
from resolvers.playback.session_viewers import transcode_viewer
from resolvers.playback.transcoder import SegmentUnavailable, Transcoder
from resolvers.playback.transcodes import (
    RunAddress,
    TranscodeSession,
    cached_address,
    encoder_run,
    forget_address,
    request_run,
    subtitle_streams,
    transcode_session,
)
from resolvers.user.principals import profile_principal

__all__ = ["hls_routes", "internal_hls_routes", "lookup_signed_hls"]

log = structlog.get_logger("revenge.hls")

PLAYLIST = "application/vnd.apple.mpegurl"
SEGMENT = "video/mp2t"
_SEGMENT = re.compile(r"seg_([0-9]{5})\.ts")
# How long a segment request waits: a queued run for a worker, then the segment itself.
CLAIM_SECONDS = 20.0
SEGMENT_SECONDS = 30.0
_SESSION_CACHE_SECONDS = 10.0
# A proxied request's own signature: a claim and a segment's wait, with room to spare.
WORKER_SIGNATURE_SECONDS = int(CLAIM_SECONDS + SEGMENT_SECONDS) + 30


async def _session(
    request: Request, *, recheck: bool = True
) -> tuple[TranscodeSession, str] | Response:
    """The session the URL names, for a caller it belongs to and whose profile still sees its
    item; the signed query to pass on. A signed URL's answer is kept for a few seconds
    (``SignedLookups``, as ``/stream`` keeps its own), so a title hidden after
    ``startPlayback`` stops within that time; credentials are checked on every request, and
    only the profile that started the session may use them (another profile of the account
    gets the answer to an unknown session). ``recheck=False``: a worker's internal route,
    behind a gateway that checked."""
    try:
        session_id = uuid.UUID(request.path_params["session_id"])
    except ValueError:
        return problem(400, "BAD_USER_INPUT", "session id is not valid")
    signed = signed_key(request, session_id)
    key = signed if recheck else None
    visible: StreamFile | None = None
    profile_id: uuid.UUID | None = None  # the credentials' profile; None for a signed URL
    pool = request.app.state.database.pool
    try:
        if key is not None:
            visible = await request.app.state.hls_lookups.load(key)
            user_id = key[2]  # verified by the lookup
        else:
            principal = await request_principal(request, session_id, hls=True)
            user_id = principal.user_id or ""
            if signed is None:  # credentials: bound to the profile they act for
                profile_id = await active_profile_id(
                    pool,
                    uuid.UUID(user_id),
                    uuid.UUID(principal.profile_id) if principal.profile_id else None,
                )
    except Unauthenticated as error:
        return problem(401, error.code, error.message)
    except Forbidden as error:
        log.info("hls refused", reason=error.reason or error.message)
        return problem(403, error.code, error.message)
    session = await _cached_session(request, session_id)
    if (
        session is None
        or str(session.user_id) != user_id
        or (profile_id is not None and session.profile_id != profile_id)
    ):
        return problem(404, "NOT_FOUND", "no such transcode session")
    if recheck and key is None:
        visibility = await request.app.state.services["authz"].visibility(principal)
        visible = await stream_file(request.app.state.database.pool, session.file_id, visibility)
    if recheck and visible is None:  # hidden now: answered as an unknown session
        return problem(404, "NOT_FOUND", "no such transcode session")
    query = "&".join(
        f"{name}={request.query_params[name]}"
        for name in ("exp", "uid", "sig")
        if name in request.query_params
    )
    return session, query


async def lookup_signed_hls(app: Starlette, key: tuple[str, ...]) -> StreamFile | None:
    """What a signed HLS URL's key (session id, exp, uid, sig) may play now: the session's
    file when the session is the URL user's and the profile that started it still sees the
    item; None otherwise; ``Forbidden`` when the signature is bad or expired, or the user or
    profile disabled or gone."""
    session_id = uuid.UUID(key[0])
    params = dict(zip(("exp", "uid", "sig"), key[1:], strict=True))
    user_id = stream_signer(app).verify_hls(session_id, params, time.time())
    pool = app.state.database.pool
    viewer = await transcode_viewer(pool, session_id)
    if viewer is None or viewer.user_id != user_id:
        return None
    principal = await profile_principal(pool, user_id, viewer.profile_id)
    if principal is None:
        raise Forbidden("the user of this stream URL is disabled or gone")
    visibility = await app.state.services["authz"].visibility(principal)
    return await stream_file(pool, viewer.file_id, visibility)


async def _cached_session(request: Request, session_id: uuid.UUID) -> TranscodeSession | None:
    """Sessions change only when they stop; a player asks every few seconds. Safe per process:
    a stop made through another process reaches this one within ``_SESSION_CACHE_SECONDS``
    (segments answer 410 from then), and the worker's run ends with the session's lease anyway."""
    cache: dict[uuid.UUID, tuple[float, TranscodeSession | None]] = (
        request.app.state.__dict__.setdefault("hls_sessions", {})
    )
    entry = cache.get(session_id)
    if entry is not None and entry[0] > time.monotonic():
        return entry[1]
    session = await transcode_session(request.app.state.database.pool, session_id)
    if len(cache) > 4096:
        cache.clear()
    cache[session_id] = (time.monotonic() + _SESSION_CACHE_SECONDS, session)
    return session


def _with(query: str) -> str:
    return f"?{query}" if query else ""


_QUERY = re.compile(r"\?[^\s'\"]*")


def _redacted(text: str) -> str:
    """``text`` (an error that may quote the URL) without query strings."""
    return _QUERY.sub("?…", text)


async def master(request: Request) -> Response:
    found = await _session(request)
    if isinstance(found, Response):
        return found
    session, query = found
    renditions = []
    for row in await subtitle_streams(request.app.state.database.pool, session.file_id):
        if not is_text_subtitle(row["codec"]):
            continue
        renditions.append(
            SubtitleRendition(
                name=row["title"] or row["language"] or f"Track {row['stream_index']}",
                language=row["language"],
                is_default=row["is_default"],
                is_forced=row["is_forced"],
                autoselect=True,
                uri=f"subs/{row['stream_index']}.m3u8{_with(query)}",
            )
        )
    body = master_playlist(list(session.variants), query=query, subtitles=renditions)
    return Response(body, media_type=PLAYLIST, headers={"Cache-Control": "private, no-cache"})


async def variant(request: Request) -> Response:
    found = await _session(request)
    if isinstance(found, Response):
        return found
    session, query = found
    if session.variant(request.path_params["variant"]) is None:
        return problem(404, "NOT_FOUND", "no such variant")
    body = variant_playlist(session.plan, query=query)
    return Response(body, media_type=PLAYLIST, headers={"Cache-Control": "private"})


async def subtitles(request: Request) -> Response:
    found = await _session(request)
    if isinstance(found, Response):
        return found
    session, _ = found
    try:
        index = int(request.path_params["index"])
    except ValueError:
        return problem(400, "BAD_USER_INPUT", "subtitle index is not valid")
    expires = int(request.query_params.get("exp", "0")) or int(time.time()) + 6 * 3600
    vtt = subtitle_path(
        stream_signer(request.app),
        session.file_id,
        index,
        str(session.user_id),
        expires,
        webvtt=True,
    )
    duration = sum(session.plan.durations)
    body = subtitle_playlist(duration, f"{vtt}&mpegts={OFFSET_TICKS}")
    return Response(body, media_type=PLAYLIST, headers={"Cache-Control": "private"})


async def segment(request: Request) -> Response:
    found = await _session(request)
    if isinstance(found, Response):
        return found
    session, query = found
    if not query:  # credentials, checked above: the worker gets a signature of our own
        query = _worker_signature(request, session)
    name = request.path_params["variant"]
    match = _SEGMENT.fullmatch(request.path_params["segment"])
    if session.variant(name) is None or match is None:
        return problem(404, "NOT_FOUND", "no such segment")
    index = int(match.group(1))
    if index >= session.plan.count:
        return problem(404, "NOT_FOUND", "no such segment")
    if session.is_stopped:
        return problem(410, "SESSION_ENDED", "this playback session has stopped")
    cached = await cached_address(
        request.app.state.services["transcode_addresses"], session.session_id, name
    )
    if cached is not None:  # the session → worker map: no database round trip
        answer = await _from_address(request, session, cached, name, index, query)
        if answer is not None:
            return answer
    for _ in range(3):  # a run that ends while we ask is replaced or reported on the next turn
        answer = await _from_current_run(request, session, name, index, query)
        if answer is not None:
            return answer
    return problem(503, "TRANSCODE_RESTARTED", "try again", **{"Retry-After": "1"})


def _worker_signature(request: Request, session: TranscodeSession) -> str:
    """A short-lived HLS signature for the session's user, for a caller that authenticated by
    header: a worker's internal route checks signatures, never a user's credentials, so those
    stay at the gateway. It lives long enough for one proxied request, and like the player's
    own it goes into no log line (``_proxy``)."""
    expires_at = int(time.time()) + WORKER_SIGNATURE_SECONDS
    return stream_signer(request.app).sign_hls(session.session_id, str(session.user_id), expires_at)


async def _from_address(
    request: Request,
    session: TranscodeSession,
    address: RunAddress,
    name: str,
    index: int,
    query: str,
) -> Response | None:
    """The segment from the worker the map names; None when that run is gone (the database
    decides then)."""
    transcoder: Transcoder | None = request.app.state.services.get("transcoder")
    if transcoder is not None and address.worker_id == transcoder.worker_id:
        try:
            return await _local_segment(transcoder, session.session_id, name, index)
        except _RunEnded:
            return None
    answer = await _proxy(request, address.worker_address, name, index, query)
    if answer.status_code == 503:
        await forget_address(
            request.app.state.services["transcode_addresses"], session.session_id, name
        )
        return None
    return answer


async def _from_current_run(
    request: Request, session: TranscodeSession, name: str, index: int, query: str
) -> Response | None:
    """The segment from the variant's live run (started if none); None: the run ended while
    we waited, ask again."""
    pool = request.app.state.database.pool
    limits = request.app.state.services["stream_limits"]
    run, is_new = await request_run(pool, session.session_id, name, index, limits.lease_seconds)
    if run is None:
        return problem(410, "SESSION_ENDED", "this playback session has ended")
    if run.status == "failed":
        return problem(422, run.failure_code or "TRANSCODE_FAILED", run.failure_message or "")
    if is_new:
        await request.app.state.services["transcoding"].defer(session.session_id, name, run.run_id)
    deadline = time.monotonic() + CLAIM_SECONDS
    while run.worker_id is None:
        if time.monotonic() > deadline:
            return problem(503, "TRANSCODE_QUEUED", "every encoder is busy", **{"Retry-After": "2"})
        await asyncio.sleep(0.05)
        found_run = await encoder_run(pool, session.session_id, name)
        if found_run is None or found_run.run_id != run.run_id:
            return None
        run = found_run
        if run.status == "failed":
            return problem(422, run.failure_code or "TRANSCODE_FAILED", run.failure_message or "")
    transcoder: Transcoder | None = request.app.state.services.get("transcoder")
    if transcoder is not None and run.worker_id == transcoder.worker_id:
        try:
            return await _local_segment(transcoder, session.session_id, name, index)
        except _RunEnded:
            return None
    return await _proxy(request, run.worker_address or "", name, index, query)


class _RunEnded(Exception):
    """The local run ended (stopped, replaced) while a request waited for it."""


async def _local_segment(
    transcoder: Transcoder, session_id: uuid.UUID, name: str, index: int, internal: bool = False
) -> Response:
    try:
        path = await transcoder.segment(session_id, name, index, SEGMENT_SECONDS)
    except SegmentUnavailable as error:
        if error.code in ("NOT_HERE", "SESSION_ENDED") and not internal:
            raise _RunEnded from error
        status = {"NOT_FOUND": 404, "SESSION_ENDED": 410, "TIMEOUT": 504, "NOT_HERE": 503}
        return problem(status.get(error.code, 422), error.code, error.message)
    return FileResponse(path, media_type=SEGMENT, headers={"Cache-Control": "private"})


async def _proxy(request: Request, address: str, name: str, index: int, query: str) -> Response:
    session_id = request.path_params["session_id"]
    # The query carries the player's signature: it goes to the worker, never into a log line.
    url = f"{address.rstrip('/')}/internal/hls/{session_id}/{name}/seg_{index:05d}.ts"
    client: httpx.AsyncClient = request.app.state.services["http"]
    try:
        upstream = await client.send(client.build_request("GET", url + _with(query)), stream=True)
    except httpx.HTTPError as error:
        # The worker died or is cut off: its run goes stale within seconds and the next request
        # starts a new one elsewhere, so this is worth a retry, not a failure.
        log.warning("segment proxy failed", url=url, error=_redacted(str(error)))
        return problem(
            503,
            "WORKER_UNREACHABLE",
            "the worker making this segment is unreachable; try again",
            **{"Retry-After": "1"},
        )
    if upstream.status_code >= 500:
        # The worker failed: the player gets our own coded answer, never the worker's 5xx.
        await upstream.aclose()
        log.warning("segment proxy answered", url=url, status=upstream.status_code)
        return problem(502, "WORKER_FAILED", "the worker making this segment failed; try again")
    if upstream.status_code != 200:
        body = await upstream.aread()
        await upstream.aclose()
        return Response(body, status_code=upstream.status_code, media_type="application/json")

    async def relay() -> Any:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    return StreamingResponse(relay(), media_type=SEGMENT, headers={"Cache-Control": "private"})


async def internal_segment(request: Request) -> Response:
    """A segment of a run this worker holds, for a gateway replica that proxies it. Only a
    signature is accepted: a worker checks no user's credentials (the gateway signs for them)."""
    if not all(name in request.query_params for name in ("exp", "uid", "sig")):
        return problem(401, "UNAUTHENTICATED", "a worker serves signed segment requests only")
    found = await _session(request, recheck=False)
    if isinstance(found, Response):
        return found
    session, _ = found
    match = _SEGMENT.fullmatch(request.path_params["segment"])
    transcoder: Transcoder | None = request.app.state.services.get("transcoder")
    if match is None or transcoder is None:
        return problem(404, "NOT_FOUND", "no such segment")
    return await _local_segment(
        transcoder,
        session.session_id,
        request.path_params["variant"],
        int(match.group(1)),
        internal=True,
    )


def hls_routes() -> list[Route]:
    return [
        Route("/hls/{session_id}/master.m3u8", master, methods=["GET", "HEAD"]),
        Route("/hls/{session_id}/subs/{index}.m3u8", subtitles, methods=["GET", "HEAD"]),
        Route("/hls/{session_id}/{variant}/index.m3u8", variant, methods=["GET", "HEAD"]),
        Route("/hls/{session_id}/{variant}/{segment}", segment, methods=["GET"]),
        *internal_hls_routes(),
    ]


def internal_hls_routes() -> list[Route]:
    return [
        Route("/internal/hls/{session_id}/{variant}/{segment}", internal_segment, methods=["GET"])
    ]
