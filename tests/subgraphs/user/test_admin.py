"""Administration: refused to users and to anonymous callers, audited when done."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from subgraphs.user.schema import schema
from tests.subgraphs.user.conftest import ADMIN_NAME, Api, error_codes
from tests.support.catalog_rows import StatementCountingPool

CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) {
    __typename
    ... on CreateUserPayload { user { id name roles } }
    ... on AuthError { code message field }
  }
}
"""
SET_ROLES = """
mutation($userId: ID!, $roles: [Role!]!) {
  setUserRoles(userId: $userId, roles: $roles) {
    __typename
    ... on UpdateUserPayload { user { id roles } }
    ... on AuthError { code field }
  }
}
"""
SET_DISABLED = """
mutation($userId: ID!, $disabled: Boolean!) {
  setUserDisabled(userId: $userId, disabled: $disabled) {
    __typename
    ... on UpdateUserPayload { user { isDisabled } }
    ... on AuthError { code field }
  }
}
"""
ADMIN_QUERIES = ["{ users { id } }", "{ auditEvents { id } }"]


async def _admin_and_bob(api: Api) -> tuple[dict[str, Any], dict[str, Any], str]:
    admin = await api.setup_admin()
    bob_id = await api.create_user(admin["accessToken"], "bob", "bobs password")
    bob = await api.sign_in("bob", "bobs password")
    return admin, bob, bob_id


@pytest.mark.parametrize("query", ADMIN_QUERIES)
async def test_admin_queries_are_refused_to_a_user_and_to_nobody(api: Api, query: str) -> None:
    _, bob, _ = await _admin_and_bob(api)

    as_bob = await api.run(query, token=bob["accessToken"])
    as_nobody = await api.run(query)

    assert as_bob.data is None
    assert error_codes(as_bob) == ["FORBIDDEN"]
    assert as_nobody.data is None
    assert error_codes(as_nobody) == ["UNAUTHENTICATED"]


async def test_admin_mutations_are_refused_to_a_user_and_to_nobody(
    api: Api, pool: asyncpg.Pool
) -> None:
    admin, bob, bob_id = await _admin_and_bob(api)
    users_before = await pool.fetch("SELECT * FROM users ORDER BY id")
    new_user = {"name": "eve", "password": "eves password", "roles": ["ADMIN"]}

    by_bob = await api.data(CREATE_USER, token=bob["accessToken"], input=new_user)
    promote = await api.data(SET_ROLES, token=bob["accessToken"], userId=bob_id, roles=["ADMIN"])
    by_nobody = await api.run(CREATE_USER, input=new_user)

    assert by_bob["createUser"] == {
        "__typename": "AuthError",
        "code": "FORBIDDEN",
        "message": "administrators only",
        "field": None,
    }
    assert promote["setUserRoles"] == {
        "__typename": "AuthError",
        "code": "FORBIDDEN",
        "field": None,
    }
    assert error_codes(by_nobody) == ["UNAUTHENTICATED"]
    assert await pool.fetch("SELECT * FROM users ORDER BY id") == users_before
    del admin


async def test_own_account_queries_need_a_caller(api: Api) -> None:
    for query in ("{ apiKeys { id } }", "{ sessions { id } }"):
        result = await api.run(query)
        assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_an_admin_creates_users_and_a_taken_name_is_refused(api: Api) -> None:
    admin = await api.setup_admin()
    user = {"name": "Carol", "password": "carols password", "roles": ["USER", "GUEST"]}

    created = await api.data(CREATE_USER, token=admin["accessToken"], input=user)
    taken = await api.data(CREATE_USER, token=admin["accessToken"], input={**user, "name": "carol"})

    assert created["createUser"]["user"]["name"] == "Carol"
    assert created["createUser"]["user"]["roles"] == ["USER", "GUEST"]
    assert taken["createUser"] == {
        "__typename": "AuthError",
        "code": "NAME_TAKEN",
        "message": "that user name is taken",
        "field": "name",
    }


async def test_an_admin_sets_roles_but_the_last_admin_keeps_theirs(api: Api) -> None:
    admin, _, bob_id = await _admin_and_bob(api)
    admin_id = admin["user"]["id"]

    promoted = await api.data(
        SET_ROLES, token=admin["accessToken"], userId=bob_id, roles=["ADMIN", "USER"]
    )
    demoted_bob = await api.data(
        SET_ROLES, token=admin["accessToken"], userId=bob_id, roles=["USER"]
    )
    demote_self = await api.data(
        SET_ROLES, token=admin["accessToken"], userId=admin_id, roles=["USER"]
    )

    assert promoted["setUserRoles"]["user"] == {"id": bob_id, "roles": ["ADMIN", "USER"]}
    assert demoted_bob["setUserRoles"]["user"] == {"id": bob_id, "roles": ["USER"]}
    assert demote_self["setUserRoles"] == {
        "__typename": "AuthError",
        "code": "INVALID_INPUT",
        "field": "roles",
    }


async def test_disabling_a_user_signs_them_out_and_enabling_lets_them_back(
    api: Api, pool: asyncpg.Pool
) -> None:
    admin, bob, bob_id = await _admin_and_bob(api)

    disabled = await api.data(
        SET_DISABLED, token=admin["accessToken"], userId=bob_id, disabled=True
    )

    assert disabled["setUserDisabled"]["user"] == {"isDisabled": True}
    open_sessions = await pool.fetchval(
        "SELECT count(*) FROM auth_sessions WHERE revoked_at IS NULL AND user_id = $1",
        uuid.UUID(bob_id),
    )
    assert open_sessions == 0
    assert (await api.sign_in("bob", "bobs password"))["code"] == "INVALID_CREDENTIALS"
    enabled = await api.data(
        SET_DISABLED, token=admin["accessToken"], userId=bob_id, disabled=False
    )
    assert enabled["setUserDisabled"]["user"] == {"isDisabled": False}
    assert (await api.sign_in("bob", "bobs password"))["__typename"] == "SignInPayload"
    del bob


async def test_admin_actions_are_audited_and_listed(api: Api, pool: asyncpg.Pool) -> None:
    admin, _, bob_id = await _admin_and_bob(api)
    await api.data(SET_ROLES, token=admin["accessToken"], userId=bob_id, roles=["GUEST"])

    data = await api.data(
        "{ auditEvents(first: 3) { actorName action target result clientAddress } }",
        token=admin["accessToken"],
    )

    assert data["auditEvents"] == [
        {"actorName": ADMIN_NAME, "action": "user.set_roles", "target": f"user:{bob_id}",
         "result": "ok", "clientAddress": "192.0.2.1"},
        {"actorName": "bob", "action": "signin", "target": data["auditEvents"][1]["target"],
         "result": "ok", "clientAddress": "192.0.2.1"},
        {"actorName": ADMIN_NAME, "action": "user.create", "target": f"user:{bob_id}",
         "result": "ok", "clientAddress": "192.0.2.1"},
    ]  # fmt: skip
    details = await pool.fetchval(
        "SELECT details FROM audit_events WHERE action = 'user.set_roles'"
    )
    assert details == {"before": ["user"], "after": ["guest"]}


async def test_users_lists_every_account_with_profiles_in_constant_statements(
    api: Api, pool: asyncpg.Pool
) -> None:
    admin = await api.setup_admin()
    for index in range(6):
        await api.create_user(admin["accessToken"], f"user{index}", "a long password")
    query = "{ users { name roles profiles { name } } }"
    await api.data(query, token=admin["accessToken"])  # warm asyncpg's type introspection

    counting = StatementCountingPool(pool)
    context = await api.context(token=admin["accessToken"])
    context.pool = counting  # type: ignore[assignment]
    context.loaders.pool = counting  # type: ignore[assignment]
    result = await schema.execute(query, context_value=context)

    assert result.errors is None
    assert [user["name"] for user in result.data["users"]] == [
        ADMIN_NAME, "user0", "user1", "user2", "user3", "user4", "user5",
    ]  # fmt: skip
    assert result.data["users"][1] == {"name": "user0", "roles": ["USER"], "profiles": [
        {"name": "user0"}]}  # fmt: skip
    assert len(counting.statements) == 2  # the users, then every user's profiles


async def test_a_user_entity_resolves_for_itself_and_admins_only(api: Api) -> None:
    admin, bob, bob_id = await _admin_and_bob(api)
    query = (
        "query($representations: [_Any!]!) { _entities(representations: $representations) "
        "{ ... on User { id name } } }"
    )
    ids = [bob_id, admin["user"]["id"], "not-an-id"]

    def representations() -> list[dict[str, str]]:  # strawberry consumes them
        return [{"__typename": "User", "id": user_id} for user_id in ids]

    as_admin = await api.data(query, token=admin["accessToken"], representations=representations())
    as_bob = await api.data(query, token=bob["accessToken"], representations=representations())

    assert as_admin["_entities"] == [
        {"id": bob_id, "name": "bob"},
        {"id": admin["user"]["id"], "name": ADMIN_NAME},
        None,
    ]
    assert as_bob["_entities"] == [{"id": bob_id, "name": "bob"}, None, None]
