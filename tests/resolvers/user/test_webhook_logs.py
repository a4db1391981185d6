"""A webhook URL's path and query are the receiver's secret (a Home Assistant webhook id): log
lines about deliveries name its scheme and host only, at every level."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import asyncpg
import pytest
import structlog
from starlette.requests import Request
from starlette.responses import Response

from infra.bus import InProcessBus
from infra.jobs import open_job_queue
from infra.logging import configure_logging
from infra.server_events import server_event
from infra.webhook_client import WebhookClient
from resolvers.user.accounts import create_user
from resolvers.user.webhook_delivery import NAMESPACE, DeliveryPolicy, attempt_delivery, blueprint
from resolvers.user.webhook_dispatch import dispatch_events
from resolvers.user.webhooks import EndpointFields, create_webhook
from tests.support.webhook_receiver import receiver

WEBHOOK_ID = "revenge_living_room_7f3a9c2e1b"
POLICY = DeliveryPolicy(max_attempts=1, disable_after_failures=2)


@pytest.fixture
def debug_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """The serve command's JSON logs at their most talkative level, httpx's request log too."""
    configure_logging("debug", "json")
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    try:
        yield
    finally:
        structlog.reset_defaults()
        logging.getLogger("httpx").setLevel(logging.NOTSET)


async def test_failed_deliveries_and_disabling_log_the_host_only(
    pool: asyncpg.Pool,
    database_url: str,
    debug_logging: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def broken(request: Request, count: int) -> Response:
        return Response("no", status_code=500)

    async with pool.acquire() as conn:
        admin = await create_user(conn, "root", "a fine long password", ("admin",))
    bus = InProcessBus()
    jobs = await open_job_queue(database_url, {NAMESPACE: blueprint()})  # no worker: by hand
    client = WebhookClient()
    async with receiver() as hooks:
        path = f"/api/webhook/{WEBHOOK_ID}"
        hooks.on(path, broken)
        url = hooks.url(path) + "?token=" + WEBHOOK_ID
        endpoint, _ = await create_webhook(
            pool, admin["id"], EndpointFields(name="ha", url=url, event_types=["user.created"])
        )
        for _ in range(2):
            await dispatch_events(
                pool, [server_event("user.created", {"userId": str(admin["id"])})]
            )
        deliveries = await pool.fetch(
            "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id", endpoint["id"]
        )
        for delivery in deliveries:
            await attempt_delivery(pool, bus, client, POLICY, delivery["id"])
        host = hooks.url("")
    await client.close()
    await bus.close()
    await jobs.close()

    err = capsys.readouterr().err
    assert WEBHOOK_ID not in err
    lines = [json.loads(line) for line in err.splitlines()]
    ours = [(line["event"], line["url"]) for line in lines if "webhook" in line["event"]]
    assert ours == [
        ("webhook attempt failed", f"{host}/…"),
        ("webhook attempt failed", f"{host}/…"),
        ("webhook disabled", f"{host}/…"),
    ]
