"""Signing-key rotation: `revenge keys rotate` beside a running server, and the scheduled
rotation's policy (rotate when due, prune after the tokens' lifetime)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from infra.key_ring import KeyRing
from infra.key_rotation import (
    DAY_SECONDS,
    TOKEN_LIFETIME_SECONDS,
    check_interval,
    key_ring_path,
    rotate_when_due,
)
from infra.tokens import InvalidAccessToken, issue_access_token, verify_access_token
from resolvers.user.accounts import create_user
from tests.gateway.test_app import GRAPHQL_RESPONSE, Running, running_app
from tests.gateway.test_cli import REVENGE, clean_env
from tests.support.clock import T0, Clock

SIGN_IN = (
    'mutation { signIn(name: "viewer", password: "correct horse battery") '
    "{ ... on SignInPayload { accessToken } } }"
)


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def keys_cli(data_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REVENGE, "keys", *args],
        env=clean_env(REVENGE_DATA_DIR=data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def post(client: httpx.AsyncClient, query: str, token: str | None = None) -> Any:
    headers = {"accept": GRAPHQL_RESPONSE}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json={"query": query}, headers=headers)


async def test_cli_rotation_beside_a_running_server(app: Running, pool: asyncpg.Pool) -> None:
    data_dir = app.app.state.settings.data_dir
    async with pool.acquire() as conn:
        await create_user(conn, "viewer", "correct horse battery", ("user",))
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        signed_in = await post(client, SIGN_IN)
        old_token = signed_in.json()["data"]["signIn"]["accessToken"]
        old_kid = kid_of(old_token)

        rotated = keys_cli(data_dir, "rotate")
        assert rotated.returncode == 0, rotated.stderr
        new_kid = KeyRing.open(key_ring_path(data_dir)).current_kid
        assert rotated.stdout.startswith(f"signing with {new_kid}; {old_kid} verifies")
        assert new_kid != old_kid

        still = await post(client, "{ me { name } }", old_token)
        fresh = (await post(client, SIGN_IN)).json()["data"]["signIn"]["accessToken"]
        listed = keys_cli(data_dir, "list").stdout.splitlines()

        dropped = keys_cli(data_dir, "drop", old_kid)
        after_drop = await post(client, "{ me { name } }", old_token)
        with_fresh = await post(client, "{ me { name } }", fresh)

    assert still.json() == {"data": {"me": {"name": "viewer"}}}
    assert kid_of(fresh) == new_kid  # the running server signs with the CLI's key
    assert [line.split()[0] for line in listed] == [old_kid, new_kid]
    assert "verifies until" in listed[0] and listed[1].endswith("signing")
    assert (dropped.returncode, dropped.stdout) == (0, f"dropped {old_kid}\n")
    assert after_drop.status_code == 401
    assert after_drop.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert with_fresh.json() == {"data": {"me": {"name": "viewer"}}}


def test_the_current_key_cannot_be_dropped_from_the_cli(tmp_path: Path) -> None:
    ring = KeyRing.open(key_ring_path(tmp_path))

    refused = keys_cli(str(tmp_path), "drop", ring.current_kid)
    unknown = keys_cli(str(tmp_path), "drop", "nope")

    assert refused.returncode == 2 and "cannot drop the current key" in refused.stderr
    assert (unknown.returncode, unknown.stderr) == (2, "revenge: no key 'nope'\n")


def test_scheduled_rotation_keeps_old_tokens_for_their_lifetime_then_prunes_the_key(
    tmp_path: Path,
) -> None:
    clock = Clock()
    ring = KeyRing.open(tmp_path / "keys.json", clock=clock)
    old_kid = ring.current_kid
    clock.now = T0 + 29 * DAY_SECONDS
    assert rotate_when_due(ring, 30) is None  # not due yet
    clock.now = T0 + 30 * DAY_SECONDS
    old_token = issue_access_token(ring, user_id="u", session_id="s")  # just before

    new_kid = rotate_when_due(ring, 30)
    other_process = KeyRing.open(tmp_path / "keys.json", clock=clock)
    again = rotate_when_due(other_process, 30)  # a replica due at the same time

    assert new_kid is not None and new_kid != old_kid
    assert again is None
    assert verify_access_token(ring, old_token).key_id == old_kid
    new_token = issue_access_token(ring, user_id="u", session_id="s")
    assert verify_access_token(other_process, new_token).key_id == new_kid

    clock.now += TOKEN_LIFETIME_SECONDS
    assert rotate_when_due(ring, 30) is None
    on_disk = json.loads((tmp_path / "keys.json").read_text())
    assert [key["kid"] for key in on_disk["keys"]] == [new_kid]
    with pytest.raises(InvalidAccessToken) as refused:
        verify_access_token(other_process, old_token)
    assert refused.value.reason == f"unknown kid: {old_kid!r}"


def test_a_rotation_period_of_zero_never_rotates(tmp_path: Path) -> None:
    clock = Clock()
    ring = KeyRing.open(tmp_path / "keys.json", clock=clock)
    kid = ring.current_kid
    clock.now = T0 + 3650 * DAY_SECONDS

    assert rotate_when_due(ring, 0) is None
    assert ring.current_kid == kid


@pytest.mark.parametrize(
    ("days", "seconds"),
    [(30, TOKEN_LIFETIME_SECONDS / 2), (0, TOKEN_LIFETIME_SECONDS / 2), (0.001, 3.6)],
)
def test_the_check_interval(days: float, seconds: float) -> None:
    assert check_interval(days) == seconds


async def test_a_server_rotates_its_key_when_it_is_due(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    first = KeyRing.open(key_ring_path(tmp_path)).current_kid

    # 0.00002 days: due within two seconds, checked every second.
    with running_app(database_url, tmp_path, REVENGE_AUTH_KEY_ROTATION_DAYS="0.00002"):
        deadline = time.monotonic() + 30
        while KeyRing.open(key_ring_path(tmp_path)).current_kid == first:
            assert time.monotonic() < deadline, "the server never rotated its key"
            await asyncio.sleep(0.1)
