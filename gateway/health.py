"""Health probes: live (the process answers), ready (database reachable, migrations applied;
under several server processes, how many of them are up), startup (the lifespan finished)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infra.migrations import current_version, latest_version

__all__ = ["health_routes"]


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def startup(request: Request) -> JSONResponse:
    started = getattr(request.app.state, "started", False)
    return JSONResponse(
        {"status": "ok" if started else "starting"}, status_code=200 if started else 503
    )


async def ready(request: Request) -> JSONResponse:
    database = getattr(request.app.state, "database", None)
    if database is None:
        return JSONResponse({"status": "starting", "database": "not open"}, status_code=503)
    try:
        async with asyncio.timeout(2):
            async with database.pool.acquire() as conn:
                version, dirty = await current_version(conn)
    except (TimeoutError, OSError, Exception):
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    latest = latest_version()  # probes call this often: no disk reads per call
    if dirty or version != latest:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migrations": f"at {version} of {latest}"},
            status_code=503,
        )
    answer: dict[str, object] = {"status": "ok", "database": "ok", "migrations": version}
    cluster = getattr(request.app.state, "cluster", None)
    if cluster is not None and not cluster.serving:  # the first start of every process
        answer["status"] = "starting"
        answer["processes"] = {"ready": cluster.ready_count(), "of": cluster.size}
        return JSONResponse(answer, status_code=503)
    if cluster is not None:
        # The whole server, not the process that happened to take the connection: all of
        # `revenge serve`'s processes ready is "ok"; fewer (one is being started again after
        # it died) still serves, "degraded"; the supervisor keeps the count.
        ready_count = cluster.ready_count()
        answer["processes"] = {"ready": ready_count, "of": cluster.size}
        if ready_count < cluster.size:
            answer["status"] = "degraded"
    return JSONResponse(answer)


def health_routes() -> list[Route]:
    return [
        Route("/health/live", live, methods=["GET", "HEAD"]),
        Route("/health/ready", ready, methods=["GET", "HEAD"]),
        Route("/health/startup", startup, methods=["GET", "HEAD"]),
    ]
