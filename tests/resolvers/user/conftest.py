"""Accounts made through the real ``create_user`` and sessions through the real ``sign_in``."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from infra.authz.principal import Principal
from infra.ratelimit import InProcessLimiter
from infra.tokens import KeyRing
from resolvers.user.accounts import create_user
from resolvers.user.signin import Tokens, sign_in

PASSWORD = "a fine long password"

MakeUser = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing.open(tmp_path / "keys.json")


@pytest.fixture
def limiter() -> InProcessLimiter:
    return InProcessLimiter()


@pytest.fixture
def make_user(pool: asyncpg.Pool) -> MakeUser:
    async def make(name: str = "alice", roles: tuple[str, ...] = ("user",)) -> uuid.UUID:
        async with pool.acquire() as conn:
            row = await create_user(conn, name, PASSWORD, roles)
        user_id: uuid.UUID = row["id"]
        return user_id

    return make


async def signed_in(
    pool: asyncpg.Pool, ring: KeyRing, name: str = "alice", password: str = PASSWORD
) -> Tokens:
    return await sign_in(pool, ring=ring, limiter=InProcessLimiter(), name=name, password=password)


def principal_of(user_id: uuid.UUID, **fields: object) -> Principal:
    return Principal(user_id=str(user_id), auth_method="jwt", **fields)  # type: ignore[arg-type]
