"""Every name other people see refuses a bidi override, DEL and C1 controls before storing."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from infra.errors import BadUserInput
from resolvers.catalog.libraries import LibraryProblem, create_library
from resolvers.user.accounts import create_user
from resolvers.user.api_clients import create_api_client
from resolvers.user.api_keys import create_api_key
from resolvers.user.profiles import ProfileFields, create_profile
from resolvers.user.webhooks import EndpointFields, create_webhook
from tests.resolvers.user.conftest import PASSWORD, principal_of

BAD_NAMES = ["abc\u202egpj.exe", "Del\x7f", "C1\x85control", "Mark\u200f", "Isolate\u2067x"]


@pytest.mark.parametrize("bad", BAD_NAMES, ids=ascii)
async def test_every_name_refuses_the_character(
    pool: asyncpg.Pool, tmp_path: Path, bad: str
) -> None:
    async with pool.acquire() as conn:
        owner = (await create_user(conn, "owner", PASSWORD, ("admin",)))["id"]
        counts_before = await conn.fetchrow(_COUNTS)

    with pytest.raises(LibraryProblem) as library:
        await create_library(pool, bad, "movies", [str(tmp_path)])
    refusals = {"library": library.value.field}
    attempts = {
        "user": lambda: _user(pool, bad),
        "profile": lambda: create_profile(
            pool, principal_of(owner), ProfileFields(name=bad), ratings=("G", "PG")
        ),
        "webhook": lambda: create_webhook(
            pool, owner, EndpointFields(name=bad, url="https://example.com/hook")
        ),
        "api key": lambda: create_api_key(pool, owner, bad, ["catalog:read"]),
        "api client": lambda: create_api_client(pool, bad, owner),
    }
    for what, attempt in attempts.items():
        with pytest.raises(BadUserInput) as raised:
            await attempt()
        refusals[what] = raised.value.extensions.get("field")

    assert refusals == dict.fromkeys(["library", *attempts], "name")
    assert await pool.fetchrow(_COUNTS) == counts_before


_COUNTS = (
    "SELECT (SELECT count(*) FROM libraries) AS libraries, (SELECT count(*) FROM users) AS users,"
    " (SELECT count(*) FROM profiles) AS profiles, (SELECT count(*) FROM api_keys) AS keys,"
    " (SELECT count(*) FROM api_clients) AS clients,"
    " (SELECT count(*) FROM webhook_endpoints) AS webhooks"
)


async def _user(pool: asyncpg.Pool, name: str) -> None:
    async with pool.acquire() as conn:
        await create_user(conn, name, PASSWORD, ("user",))
