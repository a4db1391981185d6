"""Several replicas hear every event (Redis pub/sub); each event is still delivered once."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import standardwebhooks

from infra.bus import EventBus, InProcessBus, RedisBus
from infra.jobs import open_job_queue, stop_worker
from infra.server_events import publish_server_event
from infra.webhook_client import WebhookClient
from resolvers.user.accounts import create_user
from resolvers.user.webhook_delivery import DELIVERY_QUEUE, NAMESPACE, DeliveryPolicy, blueprint
from resolvers.user.webhook_dispatch import WebhookDispatcher, dispatch_events
from resolvers.user.webhooks import EndpointFields, create_webhook
from tests.support.webhook_receiver import receiver

POLICY = DeliveryPolicy(retry_base_seconds=0.05)
EVENTS = 60


async def _replicas_deliver_once(
    pool: asyncpg.Pool, database_url: str, buses: list[EventBus]
) -> None:
    async with pool.acquire() as conn:
        admin = (await create_user(conn, "root", "a fine long password", ("admin",)))["id"]
    client = WebhookClient()
    dispatchers = [WebhookDispatcher(pool, bus) for bus in buses]
    queues = [await open_job_queue(database_url, {NAMESPACE: blueprint()}) for _ in buses]
    workers = [
        jobs.start_worker(
            concurrency=2,
            queues=[DELIVERY_QUEUE],
            name=f"replica {index}",
            additional_context={
                "pool": pool,
                "bus": bus,
                "webhook_client": client,
                "webhook_policy": POLICY,
            },
        )
        for index, (jobs, bus) in enumerate(zip(queues, buses, strict=True))
    ]
    try:
        for dispatcher in dispatchers:
            dispatcher.start()
            await asyncio.wait_for(dispatcher.wait_ready(), 5)
        async with receiver() as hooks:
            fields = EndpointFields(name="ha", url=hooks.url("/ha"), event_types=["user.created"])
            _, secret = await create_webhook(pool, admin, fields)

            for index in range(EVENTS):  # each replica publishes half; both hear all
                bus = buses[index % len(buses)]
                await publish_server_event(bus, "user.created", {"userId": str(admin)})

            received = await hooks.wait_for("/ha", EVENTS)
            await asyncio.sleep(0.5)  # a duplicate would arrive by now
            assert len(hooks.at("/ha")) == EVENTS
            ids = [
                standardwebhooks.Webhook(secret).verify(r.body.decode(), r.headers)["id"]
                for r in received
            ]
            assert len(set(ids)) == EVENTS
            assert ids == sorted(ids)  # in publish order, one at a time
            counts = await pool.fetchrow(
                "SELECT (SELECT count(*) FROM webhook_events) AS events, "
                "(SELECT count(*) FROM webhook_deliveries) AS deliveries"
            )
            assert dict(counts) == {"events": EVENTS, "deliveries": EVENTS}
    finally:
        for worker in workers:
            await stop_worker(worker)
        for dispatcher in dispatchers:
            await dispatcher.close()
        for jobs in queues:
            await jobs.close()
        await client.close()


async def test_two_replicas_on_redis_deliver_each_event_once(
    pool: asyncpg.Pool, database_url: str, redis_url: str
) -> None:
    buses: list[EventBus] = [RedisBus(redis_url), RedisBus(redis_url)]
    try:
        await _replicas_deliver_once(pool, database_url, buses)
    finally:
        for bus in buses:
            await bus.close()


async def test_two_dispatchers_on_one_bus_deliver_each_event_once(
    pool: asyncpg.Pool, database_url: str
) -> None:
    bus = InProcessBus()
    try:
        await _replicas_deliver_once(pool, database_url, [bus, bus])
    finally:
        await bus.close()


async def test_the_same_batch_dispatched_twice_at_once_makes_one_set_of_deliveries(
    pool: asyncpg.Pool, database_url: str
) -> None:
    jobs = await open_job_queue(database_url, {NAMESPACE: blueprint()})  # the schema
    await jobs.close()
    async with pool.acquire() as conn:
        admin = (await create_user(conn, "root", "a fine long password", ("admin",)))["id"]
    for name in ("a", "b"):
        fields = EndpointFields(name=name, url=f"http://{name}.test/", event_types=["user.created"])
        await create_webhook(pool, admin, fields)
    events = [
        {
            "id": str(uuid.uuid4()),
            "type": "user.created",
            "timestamp": "2026-11-22T10:00:00Z",
            "data": {"userId": str(admin)},
        }
        for _ in range(20)
    ]

    made = await asyncio.gather(*(dispatch_events(pool, events) for _ in range(4)))

    assert sorted(made) == [0, 0, 0, 40]
    jobs_queued = await pool.fetch(
        "SELECT lock, args FROM procrastinate_jobs WHERE queue_name = 'webhooks' ORDER BY id"
    )
    endpoints = await pool.fetch("SELECT id FROM webhook_endpoints ORDER BY id")
    assert [(job["lock"], job["args"]) for job in jobs_queued] == [
        (f"webhook:{row['id']}", {"endpoint_id": str(row["id"])}) for row in endpoints
    ]
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 40
