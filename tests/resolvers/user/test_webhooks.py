"""Outbound webhooks end to end below GraphQL: real PostgreSQL, the real job worker, real HTTP to
a local receiver, signatures checked with the ``standardwebhooks`` verifier."""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import standardwebhooks
from starlette.requests import Request
from starlette.responses import Response

from infra.bus import InProcessBus
from infra.errors import BadUserInput
from infra.jobs import JobQueue, open_job_queue, stop_worker
from infra.ratelimit import InProcessLimiter
from infra.server_events import publish_server_event, server_event
from infra.tokens import KeyRing
from infra.webhook_client import WebhookClient
from resolvers.user.accounts import create_user
from resolvers.user.signin import InvalidCredentials, sign_in
from resolvers.user.webhook_delivery import (
    DELIVERY_QUEUE,
    NAMESPACE,
    DeliveryPolicy,
    blueprint,
    redeliver,
)
from resolvers.user.webhook_dispatch import WebhookDispatcher, dispatch_events
from resolvers.user.webhook_log import Delivery, list_deliveries, send_test
from resolvers.user.webhooks import (
    EndpointFields,
    create_webhook,
    rotate_webhook_secret,
    update_webhook,
    validate_url,
)
from tests.support.catalog_rows import (
    StatementCountingPool,
    insert_image,
    insert_item,
    insert_library,
)
from tests.support.webhook_receiver import Receiver, receiver

POLICY = DeliveryPolicy(
    max_attempts=4, retry_base_seconds=0.05, retry_max_seconds=0.2, disable_after_failures=2
)


@dataclass
class Env:
    pool: asyncpg.Pool
    bus: InProcessBus
    jobs: JobQueue
    client: WebhookClient
    receiver: Receiver
    admin: uuid.UUID

    async def endpoint(self, path: str, types: list[str], **fields: Any) -> tuple[uuid.UUID, str]:
        row, secret = await create_webhook(
            self.pool,
            self.admin,
            EndpointFields(name=path, url=self.receiver.url(path), event_types=types, **fields),
        )
        return row["id"], secret


@pytest.fixture
async def env(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[Env]:
    bus = InProcessBus(buffer_size=4096)
    jobs = await open_job_queue(database_url, {NAMESPACE: blueprint()})
    client = WebhookClient()
    dispatcher = WebhookDispatcher(pool, bus)
    dispatcher.start()
    await asyncio.wait_for(dispatcher.wait_ready(), 5)
    context = {"pool": pool, "bus": bus, "webhook_client": client, "webhook_policy": POLICY}
    worker = jobs.start_worker(
        concurrency=4,
        queues=[DELIVERY_QUEUE],
        additional_context=context,
        name="test webhooks",
        polling_interval_s=POLICY.polling_interval(),
    )
    async with pool.acquire() as conn:
        admin = await create_user(conn, "root", "a fine long password", ("admin",))
    try:
        async with receiver() as hooks:
            yield Env(pool, bus, jobs, client, hooks, admin["id"])
    finally:
        await stop_worker(worker)
        await dispatcher.close()
        await client.close()
        await jobs.close()
        await bus.close()


async def settled(pool: asyncpg.Pool, hook: uuid.UUID, count: int) -> list[Delivery]:
    """The endpoint's ``count`` deliveries, newest first, once none is pending."""
    deadline = time.monotonic() + 10
    while True:
        deliveries = await list_deliveries(pool, hook, 50)
        if len(deliveries) >= count and all(d.row["status"] != "pending" for d in deliveries):
            return deliveries
        assert time.monotonic() < deadline, [d.row["status"] for d in deliveries]
        await asyncio.sleep(0.02)


def verified(secret: str, request: Any) -> dict[str, Any]:
    payload: dict[str, Any] = standardwebhooks.Webhook(secret).verify(
        request.body.decode(), request.headers
    )
    return payload


async def playback_rows(pool: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, uuid.UUID]:
    library = await insert_library(pool, "Shows", "tv", ("/media/tv",))
    series = await insert_item(pool, library, "The Expanse", "series", year=2015)
    episode = await insert_item(
        pool,
        library,
        "Dulcinea",
        "episode",
        series_id=series,
        parent_id=series,
        season_number=1,
        episode_number=1,
        year=2015,
    )
    image = await insert_image(pool, series, "poster", "/media/tv/poster.jpg")
    file_id = await pool.fetchval(
        "INSERT INTO media_files (item_id, library_id, path, raw_path, size, mtime_ns) "
        "VALUES ($1, $2, '/media/tv/e.mkv', '\\x00'::bytea, 1, 1) RETURNING id",
        episode,
        library,
    )
    profile = await pool.fetchval("SELECT id FROM profiles WHERE user_id = $1", user_id)
    session = await pool.fetchval(
        "INSERT INTO playback_sessions (user_id, profile_id, item_id, file_id, method, device_id, "
        "device_profile_name) VALUES ($1, $2, $3, $4, 'DIRECT_PLAY', 'living-room', 'Shield') "
        "RETURNING id",
        user_id,
        profile,
        episode,
        file_id,
    )
    return {
        "library": library,
        "series": series,
        "episode": episode,
        "image": image,
        "profile": profile,
        "session": session,
    }


async def publish_playback(
    env: Env, kind: str, rows: dict[str, uuid.UUID], user: uuid.UUID
) -> None:
    await publish_server_event(
        env.bus,
        kind,
        {
            "sessionId": str(rows["session"]),
            "userId": str(user),
            "profileId": str(rows["profile"]),
            "itemId": str(rows["episode"]),
            "positionMs": 61_000,
        },
    )


async def test_playback_started_arrives_signed_with_the_summary(env: Env) -> None:
    hook, secret = await env.endpoint("/ha", ["playback.started"])
    rows = await playback_rows(env.pool, env.admin)

    await publish_playback(env, "playback.started", rows, env.admin)

    (request,) = await env.receiver.wait_for("/ha", 1)
    payload = verified(secret, request)
    assert payload["type"] == "playback.started"
    assert request.headers["webhook-id"] == payload["id"]
    assert request.headers["user-agent"].startswith("Revenge-Webhooks/")
    assert payload["data"] == {
        "sessionId": str(rows["session"]),
        "positionMs": 61_000,
        "user": {"id": str(env.admin), "name": "root"},
        "profile": {"id": str(rows["profile"]), "name": "root"},
        "device": {"id": "living-room", "name": "Shield"},
        "method": "DIRECT_PLAY",
        "item": {
            "id": str(rows["episode"]),
            "title": "Dulcinea",
            "kind": "episode",
            "seriesTitle": "The Expanse",
            "seasonNumber": 1,
            "episodeNumber": 1,
            "year": 2015,
            "imageUrl": f"/images/{rows['image']}",
            "libraryId": str(rows["library"]),
        },
        "library": {"id": str(rows["library"]), "name": "Shows", "kind": "tv"},
    }
    (delivery,) = await settled(env.pool, hook, 1)
    assert delivery.row["status"] == "delivered"
    assert [(a["attempt"], a["status_code"], a["response_snippet"]) for a in delivery.attempts] == [
        (1, 200, "thanks")
    ]


async def test_filters_by_event_type_user_and_library(env: Env) -> None:
    async with env.pool.acquire() as conn:
        other = (await create_user(conn, "bob", "a fine long password"))["id"]
    rows = await playback_rows(env.pool, env.admin)
    elsewhere = await insert_library(env.pool, "Films", "movies", ("/media/films",))
    await env.endpoint("/all", ["playback.started", "playback.paused"])
    await env.endpoint("/paused-only", ["playback.paused"])
    await env.endpoint("/bob-only", ["playback.started"], user_ids=[other])
    await env.endpoint("/shows-only", ["playback.started"], library_ids=[rows["library"]])
    await env.endpoint("/films-only", ["playback.started"], library_ids=[elsewhere])

    await publish_playback(env, "playback.started", rows, env.admin)
    await publish_playback(env, "playback.paused", rows, env.admin)

    received = await env.receiver.wait_for("/all", 2)
    await env.receiver.wait_for("/paused-only", 1)
    await env.receiver.wait_for("/shows-only", 1)
    await asyncio.sleep(0.3)  # what was wrongly sent would be here by now
    types = {
        path: [json.loads(r.body)["type"] for r in env.receiver.at(path)]
        for path in ("/all", "/paused-only", "/bob-only", "/shows-only", "/films-only")
    }
    assert types == {
        "/all": ["playback.started", "playback.paused"],
        "/paused-only": ["playback.paused"],
        "/bob-only": [],
        "/shows-only": ["playback.started"],
        "/films-only": [],
    }
    assert len(received) == 2


async def test_retries_with_back_off_then_succeeds(env: Env) -> None:
    async def flaky(request: Request, count: int) -> Response:
        return Response("down", status_code=503) if count < 2 else Response("ok")

    env.receiver.on("/flaky", flaky)
    hook, secret = await env.endpoint("/flaky", ["user.created"])

    await publish_server_event(env.bus, "user.created", {"userId": str(env.admin)})

    requests = await env.receiver.wait_for("/flaky", 3)
    assert [r.status for r in requests] == [503, 503, 200]
    assert len({r.headers["webhook-id"] for r in requests}) == 1  # one message, three tries
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.08  # 50 ms then 100 ms, less 20 % jitter
    assert verified(secret, requests[2])["data"]["user"] == {"id": str(env.admin), "name": "root"}
    (delivery,) = await settled(env.pool, hook, 1)
    assert delivery.row["status"] == "delivered"
    assert [(a["attempt"], a["status_code"]) for a in delivery.attempts] == [
        (1, 503),
        (2, 503),
        (3, 200),
    ]


async def test_a_run_of_failures_disables_the_endpoint_and_tells_others(env: Env) -> None:
    async def broken(request: Request, count: int) -> Response:
        return Response("x" * 5000, status_code=500)

    env.receiver.on("/broken", broken)
    hook, _ = await env.endpoint("/broken", ["user.created"])
    _, watcher_secret = await env.endpoint("/watcher", ["webhook.disabled"])

    for _ in range(3):
        await publish_server_event(env.bus, "user.created", {"userId": str(env.admin)})

    (notice,) = await env.receiver.wait_for("/watcher", 1)
    payload = verified(watcher_secret, notice)
    assert payload["type"] == "webhook.disabled"
    assert payload["data"]["webhook"] == {
        "id": str(hook),
        "name": "/broken",
        "url": env.receiver.url("/broken"),
    }
    assert payload["data"]["reason"] == "2 deliveries in a row failed"
    assert payload["data"]["lastStatusCode"] == 500
    deliveries = await settled(env.pool, hook, 3)
    endpoint = await env.pool.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1", hook)
    assert (endpoint["is_enabled"], endpoint["consecutive_failures"]) == (False, 2)
    assert len(env.receiver.at("/broken")) == 2 * POLICY.max_attempts  # the third never went
    assert [d.row["status"] for d in deliveries] == ["skipped", "failed", "failed"]
    attempt = deliveries[-1].attempts[0]
    assert len(attempt["response_snippet"]) == 1024


async def test_redelivery_sends_the_same_event_again(env: Env) -> None:
    hook, secret = await env.endpoint("/again", ["user.created"])
    await publish_server_event(env.bus, "user.created", {"userId": str(env.admin)})
    (first,) = await env.receiver.wait_for("/again", 1)
    (logged,) = await settled(env.pool, hook, 1)

    new_id = await redeliver(env.pool, logged.row["id"])

    _, second = await env.receiver.wait_for("/again", 2)
    assert second.body == first.body
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    verified(secret, second)
    newest = (await settled(env.pool, hook, 2))[0]
    assert (newest.row["id"], newest.row["redelivery_of"], newest.row["status"]) == (
        new_id,
        logged.row["id"],
        "delivered",
    )
    assert await redeliver(env.pool, uuid.uuid4()) is None


async def test_rotation_signs_with_both_secrets_during_the_overlap(env: Env) -> None:
    hook, old_secret = await env.endpoint("/rotating", ["user.created"])
    _, new_secret = await rotate_webhook_secret(env.pool, env.admin, hook, 3600)

    await publish_server_event(env.bus, "user.created", {"userId": str(env.admin)})
    (during,) = await env.receiver.wait_for("/rotating", 1)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    verified(old_secret, during)
    verified(new_secret, during)

    _, newest_secret = await rotate_webhook_secret(env.pool, env.admin, hook, 0)
    await publish_server_event(env.bus, "user.created", {"userId": str(env.admin)})
    _, after = await env.receiver.wait_for("/rotating", 2)
    verified(newest_secret, after)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verified(new_secret, after)


async def test_a_slow_receiver_does_not_hold_up_another_endpoint(env: Env) -> None:
    async def slow(request: Request, count: int) -> Response:
        await asyncio.sleep(2.0)
        return Response("finally")

    env.receiver.on("/slow", slow)
    await env.endpoint("/slow", ["user.created"])
    await env.endpoint("/fast", ["user.created"])
    started = time.perf_counter()

    for _ in range(3):
        await publish_server_event(env.bus, "user.created", {"userId": str(env.admin)})

    fast = await env.receiver.wait_for("/fast", 3)
    assert fast[-1].at - started < 1.0
    assert env.receiver.at("/slow") == []  # still busy with its first
    slow_requests = await env.receiver.wait_for("/slow", 2, seconds=10)
    ids = [json.loads(r.body)["id"] for r in slow_requests]
    assert ids == sorted(ids)  # one at a time, in order


async def test_redirects_are_refused(env: Env) -> None:
    async def moved(request: Request, count: int) -> Response:
        return Response(status_code=307, headers={"location": "http://example.invalid/x"})

    env.receiver.on("/moved", moved)
    hook, _ = await env.endpoint("/moved", ["user.created"])

    delivery = await send_test(env.pool, env.bus, env.client, hook)

    assert delivery.row["status"] == "failed"
    (attempt,) = delivery.attempts
    assert attempt["status_code"] == 307
    assert attempt["error"] == "redirect refused (to http://example.invalid/x)"
    assert len(env.receiver.at("/moved")) == 1


async def test_test_send_reports_the_result(env: Env) -> None:
    hook, secret = await env.endpoint("/test", ["user.created"])

    delivery = await send_test(env.pool, env.bus, env.client, hook)

    (request,) = env.receiver.at("/test")
    assert verified(secret, request)["type"] == "webhook.test"
    assert (delivery.row["status"], delivery.row["is_test"]) == ("delivered", True)
    assert delivery.attempts[0]["status_code"] == 200


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.com",
        "http://user:pw@example.com/",
    ],
)
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(BadUserInput):
        validate_url(url)


async def test_update_validates_and_reenabling_resets_failures(env: Env) -> None:
    hook, _ = await env.endpoint("/x", ["user.created"])
    await env.pool.execute(
        "UPDATE webhook_endpoints SET is_enabled = false, consecutive_failures = 5 WHERE id = $1",
        hook,
    )
    with pytest.raises(BadUserInput):
        await update_webhook(env.pool, env.admin, hook, EndpointFields(event_types=["nope"]))

    row = await update_webhook(env.pool, env.admin, hook, EndpointFields(is_enabled=True))

    assert (row["is_enabled"], row["consecutive_failures"], row["disabled_reason"]) == (
        True,
        0,
        None,
    )


async def test_a_failed_sign_in_is_delivered(env: Env) -> None:
    _, secret = await env.endpoint("/security", ["auth.signin_failed"])

    with pytest.raises(InvalidCredentials):
        await sign_in(
            env.pool,
            ring=KeyRing.open(Path(tempfile.mkdtemp()) / "keys.json"),
            limiter=InProcessLimiter(),
            name="root",
            password="wrong password!",
            client_address="192.0.2.7",
            bus=env.bus,
        )

    (request,) = await env.receiver.wait_for("/security", 1)
    payload = verified(secret, request)
    assert (payload["type"], payload["data"]) == (
        "auth.signin_failed",
        {
            "name": "root",
            "clientAddress": "192.0.2.7",
            "reason": "credentials",
            "user": {"id": str(env.admin), "name": "root"},
        },
    )


async def test_events_no_endpoint_wants_cost_one_statement_and_store_nothing(
    pool: asyncpg.Pool,
) -> None:
    """A server without webhooks (or without one for these types) hears every event: each
    batch is one read, with no transaction and nothing written."""
    await pool.execute(
        "INSERT INTO webhook_endpoints (name, url, secret, event_types) "
        "VALUES ('HA', 'http://ha.local/hook', 'whsec_eA==', '{library.new_item}')"
    )
    counting = StatementCountingPool(pool)
    events = [server_event("playback.started", {"userId": str(uuid.uuid4())}) for _ in range(3)]
    assert await dispatch_events(counting, events) == 0  # type: ignore[arg-type]
    assert len(counting.statements) == 1 and "webhook_endpoints" in counting.statements[0]
    assert await pool.fetchval("SELECT count(*) FROM webhook_events") == 0
