"""The Starlette application: lifespan, middleware and routes.

The lifespan opens what lives as long as the process (database pool, embedded PostgreSQL,
bus, scan service) and closes it; requests get a fresh ``Context`` with their own loaders.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import structlog
from procrastinate import Blueprint
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.access_log import AccessLog
from gateway.access_log import route_label as _route_label
from gateway.auth import (
    close_auth_services,
    open_auth_services,
)
from gateway.cluster import ClusterView
from gateway.graphql_edge import GraphQLEdge
from gateway.health import health_routes
from gateway.hls_routes import hls_routes, lookup_signed_hls
from gateway.media_routes import SignedLookups, lookup_signed, media_routes
from gateway.metrics_routes import metrics_routes
from gateway.remux_routes import remux_routes
from gateway.schema import composed_schema
from gateway.spa_routes import spa_routes
from gateway.stream_seeks import OpenFiles, StreamSeeks
from gateway.subtitle_routes import subtitle_routes
from gateway.transcoding import TranscodingServices, open_transcoding
from gateway.trickplay_routes import trickplay_routes
from gateway.webhooks import WebhookServices, open_webhooks
from gateway.worker_app import WorkerHttp, serve_worker_http, worker_http_app
from infra.bus import EventBus, open_bus
from infra.database import Database, open_database
from infra.jobs import JobQueue, open_job_queue, stop_worker
from infra.leadership import JobLeadership
from infra.metrics import Metrics
from infra.settings import Settings
from resolvers.catalog import scan_jobs, trickplay_jobs
from resolvers.catalog.bootstrap import LibrarySpec, ensure_library
from resolvers.catalog.scan_service import ScanService
from resolvers.playback import transcode_jobs
from resolvers.playback.heartbeats import HeartbeatCoalescer
from resolvers.playback.leases import LeaseReaper, StreamLimits
from resolvers.playback.party_sync import PartyWaits
from resolvers.playback.resume import ResumeRules
from resolvers.playback.sessions import TOPIC as PLAYBACK_TOPIC
from resolvers.user import retention, webhook_delivery

__all__ = ["create_app", "job_blueprints", "job_context"]

log = structlog.get_logger("revenge.gateway")

StartupHook = Callable[[Starlette], Awaitable[None]]


def job_blueprints() -> dict[str, Blueprint]:
    """Every domain's job tasks, by namespace, fresh for one job queue."""
    return {
        scan_jobs.NAMESPACE: scan_jobs.blueprint(),
        trickplay_jobs.NAMESPACE: trickplay_jobs.blueprint(),
        transcode_jobs.NAMESPACE: transcode_jobs.blueprint(),
        webhook_delivery.NAMESPACE: webhook_delivery.blueprint(),
        retention.NAMESPACE: retention.blueprint(),
    }


# The general worker's queues; transcodes and webhook deliveries have workers of their own
# (gateway.transcoding, gateway.webhooks), so long scans never hold them up.
GENERAL_QUEUES = (
    scan_jobs.SCAN_QUEUE,
    trickplay_jobs.TRICKPLAY_QUEUE,
    retention.MAINTENANCE_QUEUE,
)


def job_context(
    pool: asyncpg.Pool, bus: EventBus, settings: Settings, scans: ScanService
) -> dict[str, Any]:
    """What jobs find in their context's ``additional_context`` on this process's workers."""
    return {**scans.job_context(), "pool": pool, "bus": bus, "settings": settings}


def create_app(
    settings: Settings,
    *,
    libraries: Sequence[LibrarySpec] = (),
    database: Database | None = None,
    on_started: StartupHook | None = None,
    cluster: ClusterView | None = None,
) -> Starlette:
    """Build the app. ``database`` lets tests share one pool; otherwise the lifespan opens it.
    ``cluster``: this app is one of `revenge serve`'s processes (``gateway.cluster``)."""
    edge = GraphQLEdge(settings, composed_schema().schema)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.started = False
        owned = database is None
        db = database if database is not None else await open_database(settings)
        bus = open_bus(settings, db)
        jobs = await open_job_queue(
            db.url, job_blueprints(), max_connections=settings.worker_concurrency + 4
        )
        scans = ScanService.from_settings(db.pool, bus, jobs, settings)
        worker: asyncio.Task[None] | None = None
        auth_services = await open_auth_services(settings, db.pool, bus)
        rules = ResumeRules.from_settings(settings)
        limits = StreamLimits.from_settings(settings)
        heartbeats = HeartbeatCoalescer(
            db.pool, bus, interval=settings.playback_heartbeat_flush_seconds, rules=rules
        )
        heartbeats.start()
        reaper = LeaseReaper(db.pool, bus, PLAYBACK_TOPIC, limits.lease_seconds)
        reaper.start()
        party_waits = PartyWaits(db.pool, bus)
        party_waits.start()
        sweeping = asyncio.create_task(app.state.open_files.sweep_forever())
        app.state.database = db
        app.state.bus = bus
        app.state.jobs = jobs
        app.state.remux_slots = asyncio.Semaphore(settings.playback_max_remuxes)
        transcoding = await open_transcoding(
            settings,
            db.pool,
            bus,
            jobs,
            address=f"http://{settings.server_host}:{settings.server_port}",
            lease_seconds=limits.lease_seconds,
            # One of several server processes runs transcodes only while it leads (_JobLeader,
            # with a transcoder of its own): no idle encoder child in the others.
            runs_jobs=settings.worker_in_process and cluster is None,
        )
        webhooks = open_webhooks(settings, db.pool, bus)
        app.state.services = {
            "scans": scans,
            "heartbeats": heartbeats,
            "resume_rules": rules,
            "stream_limits": limits,
            **transcoding.services(),
            **webhooks.services(),
            **auth_services,
            "document_checker": edge.document_checker,
        }
        edge.attach(db.pool)
        leader: _JobLeader | None = None
        try:
            if settings.worker_in_process and cluster is None:
                worker = await _start_job_workers(
                    db, bus, settings, scans, jobs, transcoding, webhooks
                )
            elif settings.worker_in_process:
                leader = _JobLeader(app, db, bus, settings, scans, jobs, webhooks, limits)
                leader.begin()
            for spec in libraries:
                library_id, created = await ensure_library(db.pool, spec)
                log.info("library", path=spec.path, kind=spec.kind, created=created)
                await scans.start(library_id)
            app.state.started = True
            if on_started is not None:
                await on_started(app)
            yield
        finally:
            sweeping.cancel()
            app.state.open_files.close()
            app.state.signed_lookups.close()
            app.state.hls_lookups.close()
            if worker is not None:
                await stop_worker(worker)  # running jobs finish or go back to the queue
            if leader is not None:
                await leader.close()
            await transcoding.close()
            await webhooks.close()
            await reaper.close()
            await party_waits.close()
            try:
                await heartbeats.close()  # a clean stop writes every pending heartbeat
            except Exception:
                log.exception("heartbeats not written at shutdown")
            await scans.close()
            await jobs.close()
            await close_auth_services(auth_services)
            await edge.close()
            await bus.close()
            if owned:
                await db.close()
            log.info("revenge stopped")

    metrics = Metrics()

    routes = [
        # First: most requests are GraphQL, and the router tries routes in order.
        *edge.routes,
        *health_routes(),
        *metrics_routes(metrics, settings),
        *media_routes(),
        *subtitle_routes(),
        *remux_routes(),
        *trickplay_routes(),
        *hls_routes(),
        *spa_routes(),  # the web app (frontend/out) at /, history fallback; keep last
    ]
    app = _RevengeApp(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(_RequestIdMiddleware, metrics=metrics)],
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.cluster = cluster
    app.state.signed_lookups = SignedLookups(lambda key: lookup_signed(app, key))
    app.state.hls_lookups = SignedLookups(lambda key: lookup_signed_hls(app, key))
    app.state.open_files = OpenFiles()
    return app


class _RevengeApp(Starlette):
    """Starlette with the request ids and access log (``gateway.access_log``) and the stream
    seek path (``gateway.stream_seeks``) in front of its whole stack, even of the error
    middleware Starlette always puts outermost."""

    def build_middleware_stack(self) -> ASGIApp:
        state = self.state
        return AccessLog(
            StreamSeeks(
                super().build_middleware_stack(),
                state.signed_lookups,
                state.open_files,
                state.metrics,
            ),
            enabled=state.settings.log_access,
        )


class _RequestIdMiddleware:
    """Sends the request's id back (``X-Request-Id``; ``AccessLog``, in front of everything,
    gave it one) and counts the request by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = scope.get("revenge.request_id") or uuid.uuid4().hex
        scope["revenge.request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                self.metrics.observe_http(
                    scope["method"], _route_label(scope), status, time.perf_counter() - started
                )


async def _start_job_workers(
    db: Database,
    bus: EventBus,
    settings: Settings,
    scans: ScanService,
    jobs: JobQueue,
    transcoding: TranscodingServices,
    webhooks: WebhookServices,
) -> asyncio.Task[None]:
    """This process's job workers: the general queues' (returned), transcodes', webhooks'."""
    await scans.requeue_orphans()
    context = {**job_context(db.pool, bus, settings, scans), "jobs": jobs}
    worker = jobs.start_worker(
        concurrency=settings.worker_concurrency,
        queues=GENERAL_QUEUES,
        additional_context=context,
    )
    transcoding.start_worker(jobs, context, settings)
    webhooks.start_worker(jobs, context, settings)
    return worker


class _JobLeader:
    """The in-process job workers of one of several server processes: started only while this
    process holds the cluster's job lock (``infra.leadership``), with a transcoder of its own
    whose segments the other processes fetch from a private loopback port."""

    def __init__(
        self,
        app: Starlette,
        db: Database,
        bus: EventBus,
        settings: Settings,
        scans: ScanService,
        jobs: JobQueue,
        webhooks: WebhookServices,
        limits: StreamLimits,
    ) -> None:
        self.app, self.db, self.bus, self.settings = app, db, bus, settings
        self.scans, self.jobs, self.webhooks, self.limits = scans, jobs, webhooks, limits
        self.worker: asyncio.Task[None] | None = None
        self.transcoding: TranscodingServices | None = None
        self.http: WorkerHttp | None = None
        self.leadership = JobLeadership(db.url, self.start, self.stop)

    def begin(self) -> None:
        self.leadership.begin()

    async def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self.transcoding = await open_transcoding(
            self.settings,
            self.db.pool,
            self.bus,
            self.jobs,
            address=address,
            lease_seconds=self.limits.lease_seconds,
            runs_jobs=True,
        )
        services = self.app.state.services
        services.update(self.transcoding.services())
        self.http = await serve_worker_http(
            worker_http_app(
                self.db, {**self.transcoding.services(), "stream_signer": services["stream_signer"]}
            ),
            "127.0.0.1",
            0,
            sock=listener,
        )
        self.worker = await _start_job_workers(
            self.db, self.bus, self.settings, self.scans, self.jobs, self.transcoding, self.webhooks
        )

    async def stop(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            await stop_worker(worker)
        await self.webhooks.stop_worker()
        transcoding, self.transcoding = self.transcoding, None
        if transcoding is not None:
            self.app.state.services.pop("transcoder", None)
            await transcoding.close()
        http, self.http = self.http, None
        if http is not None:
            await http.close()

    async def close(self) -> None:
        await self.leadership.close()
