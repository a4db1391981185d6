"""One subgraph served alone (``revenge subgraph NAME``), as a federation router reaches it.

It answers ``/graphql`` (HTTP and graphql-transport-ws, with ``_service`` and ``_entities``) under
the same request rules as the gateway (``gateway.graphql_edge``): a router forwards the caller's
credentials and the subgraph authenticates them itself, so a persisted-only key stays
persisted-only here, and the depth, token and field limits and the WebSocket caps hold.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.auth import close_auth_services, open_auth_services
from gateway.graphql_edge import GraphQLEdge
from gateway.schema import subgraph_schema
from infra.bus import open_bus
from infra.database import open_database
from infra.jobs import open_job_queue
from infra.settings import Settings
from resolvers.catalog.scan_service import ScanService

__all__ = ["subgraph_app"]


def subgraph_app(settings: Settings, name: str) -> Starlette:
    """The Starlette app serving subgraph ``name`` (``KeyError`` for an unknown one)."""
    from gateway.app import job_blueprints

    edge = GraphQLEdge(settings, subgraph_schema(name)._schema)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = await open_database(settings)
        bus = open_bus(settings, database)
        jobs = await open_job_queue(
            database.url, job_blueprints(), max_connections=settings.worker_concurrency + 4
        )
        scans = ScanService.from_settings(database.pool, bus, jobs, settings)
        auth_services = await open_auth_services(settings, database.pool, bus)
        app.state.database = database
        app.state.bus = bus
        app.state.services = {
            "scans": scans,
            **auth_services,
            "document_checker": edge.document_checker,
        }
        edge.attach(database.pool)
        try:
            yield
        finally:
            await edge.close()
            await scans.close()
            await jobs.close()
            await close_auth_services(auth_services)
            await bus.close()
            await database.close()

    async def live(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "subgraph": name})

    return Starlette(
        routes=[Route("/health/live", live, methods=["GET", "HEAD"]), *edge.routes],
        lifespan=lifespan,
    )
