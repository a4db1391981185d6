"""The app the fuzzers hit: the real ``create_app`` under uvicorn on the test database, and the
callers they hit it as (anonymous, a signed-in administrator, a signed-in kids profile).

The app runs no jobs (``worker.in_process`` off): a fuzzed ``createLibrary`` may name ``/`` and a
fuzzed ``scanLibrary`` would then walk the whole disk. Its webhook client refuses every request,
so nothing a fuzzed ``createWebhook``/``testWebhook`` names is ever contacted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from infra.webhook_client import WebhookClient
from resolvers.user.accounts import create_user
from tests.conftest import truncate_all
from tests.fuzz.seed import GRAPHQL_RESPONSE, seed_accounts, seed_catalog
from tests.gateway.test_app import Running, running_app

PASSWORD = "correct horse battery"
# Every request has this long to answer; a request still waiting after it is a hang.
REQUEST_TIMEOUT_S = 20.0
CALLER_NAMES = ("anonymous", "admin", "kids")
# Ids of rows that exist, filled by ``callers`` before any fuzzing (see tests/fuzz/seed.py).
KNOWN_IDS: list[str] = []

SIGN_IN = """mutation ($name: String!, $password: String!) {
  signIn(name: $name, password: $password) { ... on SignInPayload { accessToken } }
}"""


@dataclass(frozen=True)
class Caller:
    """Who sends the fuzzed requests: ``headers`` for every operation but ``signOut``, which
    gets a session of its own (``sign_out_headers``) so the others stay signed in."""

    name: str
    headers: dict[str, str]
    sign_out_headers: dict[str, str]


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("the fuzzed app contacts no webhook receiver", request=request)


@pytest.fixture(scope="package")
async def fuzz_database(migrated_pool: asyncpg.Pool) -> asyncpg.Pool:
    await truncate_all(migrated_pool)
    async with migrated_pool.acquire() as conn:
        await create_user(conn, "fuzz-admin", PASSWORD, ("admin",))
        await create_user(conn, "fuzz-kid", PASSWORD, ("kids",))
        await conn.execute(
            "UPDATE profiles SET is_kids = true, max_rating = 'PG', allow_unrated = false "
            "FROM users WHERE users.id = profiles.user_id AND users.name = 'fuzz-kid'"
        )
    return migrated_pool


@pytest.fixture(scope="package")
def fuzz_app(
    fuzz_database: asyncpg.Pool, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    with running_app(
        database_url,
        tmp_path_factory.mktemp("fuzz") / "data",
        REVENGE_WORKER_IN_PROCESS="false",
    ) as running:
        running.app.state.services["webhook_client"] = WebhookClient(
            transport=httpx.MockTransport(_refuse)
        )
        yield running


async def _sign_in(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await client.post(
        "/graphql",
        json={"query": SIGN_IN, "variables": {"name": name, "password": PASSWORD}},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    token = response.json()["data"]["signIn"]["accessToken"]
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="package")
async def callers(
    fuzz_database: asyncpg.Pool, fuzz_app: Running, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Caller]]:
    """Signed in (and the rows seeded) before any fuzzing: fuzzed ``signIn`` failures soon
    rate-limit this address."""
    found = {"anonymous": Caller("anonymous", {}, {})}
    async with httpx.AsyncClient(base_url=fuzz_app.url, timeout=REQUEST_TIMEOUT_S) as client:
        for name, user in (("admin", "fuzz-admin"), ("kids", "fuzz-kid")):
            found[name] = Caller(name, await _sign_in(client, user), await _sign_in(client, user))
        catalog = await seed_catalog(fuzz_database, tmp_path_factory.mktemp("fuzz-media"))
        accounts = await seed_accounts(client, found["admin"].headers, catalog[1])
    KNOWN_IDS[:] = catalog + accounts
    yield found


@pytest.fixture(scope="package")
def http(fuzz_app: Running) -> Iterator[httpx.Client]:
    """A blocking client: the fuzzers are synchronous tests (the app runs in its own thread)."""
    with httpx.Client(base_url=fuzz_app.url, timeout=REQUEST_TIMEOUT_S) as client:
        yield client
