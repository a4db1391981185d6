"""The web app's static files (``frontend/out``, a Next.js static export) at ``/``.

Mounted last, after every API and media route, so it only answers what nothing else claimed.
A path resolves to the file itself, then to the exported page (``/item`` → ``item.html``,
``/admin/`` → ``admin/index.html``). Every page is exported (ids travel in query strings), so
the history fallback is the app's own not-found page, sent with 404 to a browser; an API or
media path (``/stream/…``) that nothing claimed, or a missing asset, is a JSON 404. Hashed
build assets under ``/_next/static/`` are cached for a year; pages are revalidated on every
load so a new build shows at once. Without a build the mount answers 404 with a short note
saying how to build, never a directory listing or a stack trace.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.types import Receive, Scope, Send

__all__ = ["DEFAULT_BUILD_DIR", "SpaFiles", "spa_routes"]

DEFAULT_BUILD_DIR = Path(__file__).resolve().parent.parent / "frontend" / "out"

# First path segments that belong to the API and media routes (or the build's own assets):
# a miss there is a JSON 404, never the app's HTML.
NOT_PAGES = frozenset(
    {"_next", "graphql", "health", "metrics", "images", "stream", "remux", "hls", "subtitles",
     "trickplay", "internal"}
)  # fmt: skip
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
ASSET = "public, max-age=3600"

_NOT_BUILT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Revenge</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{background:#0b0d12;color:#e8eaf0;font:16px/1.5 system-ui,sans-serif;
display:grid;place-items:center;min-height:100vh;margin:0}main{max-width:32rem;padding:2rem}
code{background:#1b1f2a;padding:.1rem .35rem;border-radius:4px}</style></head>
<body><main><h1>The web app is not built</h1>
<p>The API is running at <code>/graphql</code>. Build the web app with
<code>./dev serve</code> (it builds when needed) or <code>cd frontend &amp;&amp; npm ci &amp;&amp;
npm run build</code>, then reload this page.</p></main></body></html>
"""


class SpaFiles:
    """An ASGI app serving a static export with a history fallback."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = self.respond(request)
        await response(scope, receive, send)

    def respond(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return JSONResponse(
                {"code": "METHOD_NOT_ALLOWED", "message": "Only GET and HEAD are served here."},
                status_code=405,
                headers={"Allow": "GET, HEAD"},
            )
        root = self.build_dir
        index = root / "index.html"
        if not index.is_file():
            return _not_built(request)
        relative = _safe_relative(request.url.path)
        if relative is None:
            return _not_found()
        found = _resolve(root, relative)
        if found is not None:
            return _file(found, relative)
        api = bool(relative.parts) and relative.parts[0] in NOT_PAGES
        if api or relative.suffix or "text/html" not in request.headers.get("accept", ""):
            return _not_found()  # an API or media path, or an asset: never a page
        missing = root / "404.html"
        if not missing.is_file():
            missing = index
        # Every page of the app is exported (ids travel in query strings), so a path with no
        # page is a broken link: the app's own not-found page, with the status saying so.
        return FileResponse(missing, status_code=404, headers={"Cache-Control": REVALIDATE})


def spa_routes(build_dir: Path | None = None) -> list[BaseRoute]:
    """The mount to append last to the app's routes."""
    return [Mount("/", app=SpaFiles(build_dir or DEFAULT_BUILD_DIR), name="spa")]


def _safe_relative(path: str) -> PurePosixPath | None:
    """The request path as a relative path inside the build, or None when it tries to leave."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if any(part == ".." or "\\" in part or "\x00" in part for part in parts):
        return None
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _resolve(root: Path, relative: PurePosixPath) -> Path | None:
    base = root.joinpath(*relative.parts) if relative.parts else root
    candidates = [base, base.with_name(base.name + ".html"), base / "index.html"]
    if not relative.parts:
        candidates = [root / "index.html"]
    for candidate in candidates:
        if candidate.is_file() and _inside(root, candidate):
            return candidate
    return None


def _inside(root: Path, candidate: Path) -> bool:
    try:
        candidate.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _file(path: Path, relative: PurePosixPath) -> FileResponse:
    if relative.parts[:2] == ("_next", "static"):
        cache = IMMUTABLE
    elif path.suffix == ".html" or path.name.endswith(".txt"):
        cache = REVALIDATE
    else:
        cache = ASSET
    return FileResponse(path, headers={"Cache-Control": cache})


def _not_found() -> JSONResponse:
    return JSONResponse({"code": "NOT_FOUND", "message": "No such file."}, status_code=404)


def _not_built(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_NOT_BUILT_HTML, status_code=404)
    return JSONResponse(
        {
            "code": "FRONTEND_NOT_BUILT",
            "message": "The web app is not built: run `cd frontend && npm ci && npm run build`.",
        },
        status_code=404,
    )
