"""Outbound webhook benchmark: bus event → receiver latency, and exactly-once under failures.

On a fresh embedded PostgreSQL, the real pieces a gateway runs (``gateway.webhooks``: the
dispatcher on an in-process bus, the signing HTTP client, the job worker of the ``webhooks``
queue) deliver to a receiver (uvicorn in a thread of its own, so it never competes with the
worker's event loop).

(a) latency: one endpoint, ``--latency-events`` events published one at a time with the queue
    idle; the time from ``publish`` to the receiver holding the POST. Target p95 <= 200 ms.
(b) load: ``--events`` events across ``--endpoints`` endpoints; the first endpoint answers 500 to
    half its requests at random. Retries back off from 50 ms (capped at 500 ms, ±20 % jitter),
    up to 20 attempts. Counted at the receiver: each (event, endpoint) must be answered 2xx
    exactly once — no loss, no duplicate — and every delivery row must end ``delivered``.

    .venv/bin/python bench/webhooks.py [--latency-events 200] [--events 1000] [--endpoints 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import threading
import time
from collections import Counter

import uvicorn
from _support import bench_database_and_url, figure, median, percentile, run_like_serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.webhooks import open_webhooks
from infra.bus import InProcessBus
from infra.jobs import open_job_queue
from infra.server_events import publish_server_event
from infra.settings import load_settings
from resolvers.user import webhook_delivery
from resolvers.user.accounts import create_user
from resolvers.user.webhooks import EndpointFields, create_webhook

TARGET_P95_MS = 200.0


class ThreadReceiver:
    """POST /{path}: records (path, webhook-id, status, arrival) and tells the bench's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.records: list[tuple[str, str, int, float]] = []
        self.lock = threading.Lock()
        self.arrived = asyncio.Event()
        self.flaky_paths: set[str] = set()
        self.random = random.Random(7)

    async def handle(self, request: Request) -> Response:
        arrival = time.perf_counter()
        await request.body()
        path = request.url.path
        status = 500 if path in self.flaky_paths and self.random.random() < 0.5 else 200
        with self.lock:
            self.records.append((path, request.headers["webhook-id"], status, arrival))
        self.loop.call_soon_threadsafe(self.arrived.set)
        return Response("ok" if status == 200 else "try again", status_code=status)

    def start(self) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def count(self) -> int:
        with self.lock:
            return len(self.records)


async def wait_until(condition: object, receiver: ThreadReceiver, within: float) -> None:
    deadline = time.perf_counter() + within
    while not condition():  # type: ignore[operator]
        receiver.arrived.clear()
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError("the receiver did not get everything in time")
        try:
            await asyncio.wait_for(receiver.arrived.wait(), min(remaining, 0.5))
        except TimeoutError:
            pass


async def main(latency_events: int, events: int, endpoints: int) -> int:
    async with bench_database_and_url() as (pool, url):
        settings = load_settings(
            {
                "REVENGE_DATABASE_URL": url,
                "REVENGE_WEBHOOK_MAX_ATTEMPTS": "20",
                "REVENGE_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
                "REVENGE_WEBHOOK_RETRY_MAX_SECONDS": "0.5",
                "REVENGE_WEBHOOK_DISABLE_AFTER_FAILURES": "1000",
                "REVENGE_WEBHOOK_CONCURRENCY": str(max(endpoints, 4)),
            }
        )
        bus = InProcessBus()
        jobs = await open_job_queue(
            url, {webhook_delivery.NAMESPACE: webhook_delivery.blueprint()}, max_connections=16
        )
        webhooks = open_webhooks(settings, pool, bus)
        webhooks.start_worker(jobs, {"pool": pool, "bus": bus}, settings)
        await webhooks.dispatcher.wait_ready()
        receiver = ThreadReceiver(asyncio.get_running_loop())
        base = await asyncio.to_thread(receiver.start)
        async with pool.acquire() as conn:
            admin = (await create_user(conn, "bench-admin", "a long enough password 1"))["id"]
        data = {"userId": str(admin)}
        try:
            # (a) latency with the queue idle
            latency_hook, _ = await create_webhook(
                pool,
                admin,
                EndpointFields(name="latency", url=f"{base}/latency", event_types=["user.created"]),
            )
            latencies = []
            for index in range(latency_events + 10):
                before = receiver.count()
                started = time.perf_counter()
                await publish_server_event(bus, "user.created", data)
                await wait_until(lambda b=before: receiver.count() > b, receiver, 10)
                if index >= 10:  # the first few warm connections and caches
                    latencies.append((receiver.records[-1][3] - started) * 1000)
                await asyncio.sleep(0.01)
            p95 = percentile(latencies, 0.95)
            figure("latency_p50", median(latencies), "ms")
            figure("latency_p95", p95, "ms")
            figure("latency_max", max(latencies), "ms")
            await webhooks.dispatcher.drain()
            await pool.execute(
                "UPDATE webhook_endpoints SET is_enabled = false WHERE id = $1",
                latency_hook["id"],
            )

            # (b) many events across endpoints, one failing half its requests
            paths = [f"/load-{index}" for index in range(endpoints)]
            receiver.flaky_paths.add(paths[0])
            for path in paths:
                await create_webhook(
                    pool,
                    admin,
                    EndpointFields(name=path, url=base + path, event_types=["user.created"]),
                )
            with receiver.lock:
                receiver.records.clear()
            started = time.perf_counter()
            for _ in range(events):
                await publish_server_event(bus, "user.created", data)
                await asyncio.sleep(0)  # requests publish between awaits, as in the gateway

            def delivered() -> Counter[tuple[str, str]]:
                with receiver.lock:
                    return Counter((p, i) for p, i, status, _ in receiver.records if status == 200)

            await wait_until(lambda: len(delivered()) >= events * endpoints, receiver, 600)
            elapsed = time.perf_counter() - started
            await asyncio.sleep(1.0)  # a duplicate would arrive by now
            counts = delivered()
            with receiver.lock:
                flaky_requests = sum(1 for p, *_ in receiver.records if p == paths[0])
            duplicates = sum(count - 1 for count in counts.values() if count > 1)
            event_ids = {i for _, i in counts}
            missing = events * endpoints - len(counts)
            rows = await pool.fetch(
                "SELECT status, count(*) AS n FROM webhook_deliveries AS d "
                "JOIN webhook_endpoints AS w ON w.id = d.endpoint_id "
                "WHERE w.name LIKE '/load-%' GROUP BY status"
            )
            statuses = {row["status"]: row["n"] for row in rows}
            figure("load_deliveries", len(counts), "pairs")
            figure("load_distinct_events", len(event_ids), "events")
            figure("load_missing", missing, "pairs")
            figure("load_duplicates", duplicates, "pairs")
            figure("load_flaky_endpoint_requests", flaky_requests, "requests")
            with receiver.lock:
                healthy_done = max(
                    arrival for p, _, status, arrival in receiver.records if p != paths[0]
                )
            figure("load_healthy_endpoints_time", healthy_done - started, "s")
            figure("load_total_time", elapsed, "s")
            figure("load_throughput", len(counts) / elapsed, "deliveries/s")
            print(f"delivery rows by status: {statuses}", flush=True)
            exact = (
                missing == 0 and duplicates == 0 and statuses == {"delivered": events * endpoints}
            )
            print(
                f"summary: latency p50 {median(latencies):.1f} ms, p95 {p95:.1f} ms "
                f"(target <= {TARGET_P95_MS:.0f} ms: "
                f"{'met' if p95 <= TARGET_P95_MS else 'MISSED'});"
                f" {events} events x {endpoints} endpoints in {elapsed:.1f} s, exactly once: "
                f"{'yes' if exact else 'NO'} (missing {missing}, duplicates {duplicates})",
                flush=True,
            )
            return 0 if exact else 1
        finally:
            await webhooks.close()
            await jobs.close()
            await bus.close()
            await asyncio.to_thread(receiver.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=10)
    options = parser.parse_args()
    result: list[int] = []

    async def run() -> None:
        result.append(await main(options.latency_events, options.events, options.endpoints))

    run_like_serve(run())
    raise SystemExit(result[0] if result else 1)
