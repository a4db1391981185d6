"""Administering users: roles, disabling, the audit list."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from infra.errors import BadUserInput, NotFound
from resolvers.user.users import (
    list_audit_events,
    list_users,
    set_user_disabled,
    set_user_roles,
    validate_roles,
)
from tests.resolvers.user.conftest import MakeUser


def test_roles_are_known_deduplicated_and_in_order() -> None:
    assert validate_roles(["user", "admin", "user"]) == ["admin", "user"]
    for roles in ([], ["root"]):
        with pytest.raises(BadUserInput):
            validate_roles(roles)


async def test_the_last_admin_can_be_neither_demoted_nor_disabled(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    first = await make_user("first", ("admin",))
    second = await make_user("second", ("admin",))

    await set_user_disabled(pool, first, second, True)

    with pytest.raises(BadUserInput):
        await set_user_roles(pool, second, first, ["user"])
    with pytest.raises(BadUserInput):
        await set_user_disabled(pool, second, first, True)
    with pytest.raises(BadUserInput):  # nor anyone themself
        await set_user_disabled(pool, first, first, True)
    await set_user_disabled(pool, first, second, False)
    demoted = await set_user_roles(pool, first, second, ["user"])
    assert list(demoted["roles"]) == ["user"]


async def test_an_unknown_user_is_not_found(pool: asyncpg.Pool, make_user: MakeUser) -> None:
    admin = await make_user("admin", ("admin",))

    with pytest.raises(NotFound):
        await set_user_roles(pool, admin, uuid.uuid4(), ["user"])


async def test_users_are_listed_by_name(pool: asyncpg.Pool, make_user: MakeUser) -> None:
    for name in ("carol", "Alice", "bob"):
        await make_user(name)

    assert [row["name"] for row in await list_users(pool)] == ["Alice", "bob", "carol"]


async def test_audit_events_are_newest_first_and_bounded(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await make_user("admin", ("admin",))
    user = await make_user("user")
    await set_user_roles(pool, admin, user, ["guest"])

    events = await list_audit_events(pool, 2)

    assert [(e["action"], e["actor_display_name"]) for e in events] == [
        ("user.set_roles", "admin"),
        ("user.create", None),
    ]
    for first in (0, 501):
        with pytest.raises(BadUserInput):
            await list_audit_events(pool, first)
