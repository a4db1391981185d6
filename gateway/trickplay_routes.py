"""REST routes for seek thumbnails: the WebVTT index and its JPEG sheets.

``/trickplay/{file_id}/index.vtt`` and ``/trickplay/{file_id}/sheet_NNN.jpg`` follow the stream
route's access rules: a signed URL for the *file* (so the query string of a player's stream URL
opens that file's thumbnails) or credentials, then the file under the caller's visibility.
Browsers fetch the sheets named in the index without credentials of their own, so the index is
served with the request's signature appended to every sheet URI.

The path on disk is built from the file id and a sheet number that matched a strict pattern and
is below the recorded sheet count; nothing a client sends is used as a path.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import urlencode

import structlog
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from gateway.media_routes import _StreamResponse, problem, request_principal
from infra.errors import Forbidden, Unauthenticated
from media.trickplay import INDEX_NAME, sheet_name
from resolvers.catalog.stream_files import stream_file
from resolvers.catalog.trickplay import TrickplayInfo, trickplay_dir, trickplay_info

__all__ = ["trickplay_routes"]

log = structlog.get_logger("revenge.trickplay")

_SHEET = re.compile(r"sheet_(\d{3,6})")
_SHEET_URI = re.compile(r"^(sheet_\d{3,6}\.jpg)(#xywh=\d+,\d+,\d+,\d+)$", re.MULTILINE)
_SIGNATURE_PARAMS = ("exp", "uid", "sig")


async def _find(request: Request) -> tuple[uuid.UUID, TrickplayInfo] | Response:
    """The file's trickplay set, or the problem that answers instead (the stream route's rules)."""
    try:
        file_id = uuid.UUID(request.path_params["file_id"])
    except ValueError:
        return problem(400, "BAD_USER_INPUT", "file id is not valid")
    try:
        principal = await request_principal(request, file_id)
    except Unauthenticated as error:
        return problem(401, error.code, error.message)
    except Forbidden as error:
        log.info("trickplay refused", reason=error.reason or error.message)
        return problem(403, error.code, error.message)
    pool = request.app.state.database.pool
    visibility = await request.app.state.services["authz"].visibility(principal)
    if await stream_file(pool, file_id, visibility) is None:
        return problem(404, "NOT_FOUND", "file not found")
    info = await trickplay_info(pool, file_id)
    if info is None:
        return problem(404, "NOT_FOUND", "no trickplay for this file yet")
    return file_id, info


def _signature_query(request: Request) -> str:
    params = request.query_params
    if not all(name in params for name in _SIGNATURE_PARAMS):
        return ""
    return urlencode([(name, params[name]) for name in _SIGNATURE_PARAMS])


def signed_index(text: str, query: str) -> str:
    """``index.vtt`` with ``query`` added to each relative sheet URI (before its fragment)."""
    if not query:
        return text
    return _SHEET_URI.sub(lambda match: f"{match[1]}?{query}{match[2]}", text)


async def index(request: Request) -> Response:
    found = await _find(request)
    if isinstance(found, Response):
        return found
    file_id, _ = found
    path = trickplay_dir(request.app.state.settings.data_dir, file_id) / INDEX_NAME
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError:
        return problem(404, "NOT_FOUND", "no trickplay for this file yet")
    return Response(
        signed_index(text, _signature_query(request)),
        media_type="text/vtt; charset=utf-8",
        headers={"Cache-Control": "private"},
    )


async def sheet(request: Request) -> Response:
    match = _SHEET.fullmatch(request.path_params["sheet"])
    if match is None:
        return problem(400, "BAD_USER_INPUT", "sheet name is not valid")
    number = int(match[1])
    name = sheet_name(number)
    if name != f"{match[0]}.jpg":  # one spelling per sheet: sheet_001, never sheet_0001
        return problem(404, "NOT_FOUND", "sheet not found")
    found = await _find(request)
    if isinstance(found, Response):
        return found
    file_id, info = found
    if number >= info.sheet_count:
        return problem(404, "NOT_FOUND", "sheet not found")
    path = trickplay_dir(request.app.state.settings.data_dir, file_id) / name
    if not await asyncio.to_thread(path.is_file):
        return problem(404, "NOT_FOUND", "sheet not found")
    return _StreamResponse(
        FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private"})
    )


def trickplay_routes() -> list[Route]:
    return [
        Route("/trickplay/{file_id}/index.vtt", index, methods=["GET", "HEAD"]),
        Route("/trickplay/{file_id}/{sheet}.jpg", sheet, methods=["GET", "HEAD"]),
    ]
