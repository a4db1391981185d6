from __future__ import annotations

import asyncpg
import pytest

from infra.authz.casbin_engine import (
    ALL,
    CasbinEngine,
    load_rules,
    read_seed,
    remove_rule,
    save_rule,
)

ALICE = "user:0190a000-0000-7000-8000-00000000000a"
GUEST = "user:0190a000-0000-7000-8000-00000000000b"
CHILD = "profile:0190a000-0000-7000-8000-00000000000c"
MOVIES = "0190a000-0000-7000-8000-0000000000f1"
SHOWS = "0190a000-0000-7000-8000-0000000000f2"


def engine(*rules: tuple[str, ...]) -> CasbinEngine:
    return CasbinEngine(rules)


@pytest.mark.parametrize(
    ("subject", "domain", "obj", "action", "allowed"),
    [
        ("role:admin", "global", "admin:users", "write", True),
        ("role:admin", f"library:{MOVIES}", "catalog", "write", True),
        ("role:admin", "global", "playback:others", "read", True),
        ("role:user", f"library:{MOVIES}", "catalog", "read", True),
        ("role:user", "global", "catalog", "read", True),
        ("role:user", f"library:{MOVIES}", "catalog", "write", False),
        ("role:user", "global", "playback:own", "write", True),
        ("role:user", "global", "playback:others", "read", False),
        ("role:user", "global", "admin:users", "read", False),
        ("role:user", "global", "qar", "read", True),
        ("role:guest", f"library:{MOVIES}", "catalog", "read", False),
        ("role:guest", "global", "playback:own", "write", True),
        ("role:guest", "global", "qar", "read", False),
        ("role:kids", f"library:{MOVIES}", "catalog", "read", False),
        ("role:kids", "global", "playback:own", "read", True),
        ("role:kids", "global", "qar", "read", False),
        ("role:anonymous", "global", "catalog", "read", False),
    ],
)
def test_seed_policy_decides_each_role(
    subject: str, domain: str, obj: str, action: str, allowed: bool
) -> None:
    assert engine().enforce(subject, domain, obj, action) is allowed


def test_a_library_grant_opens_that_library_only() -> None:
    casbin = engine(
        ("p", GUEST, f"library:{MOVIES}", "catalog", "read"), ("g", GUEST, "role:guest")
    )

    assert casbin.enforce(GUEST, f"library:{MOVIES}", "catalog", "read") is True
    assert casbin.enforce(GUEST, f"library:{SHOWS}", "catalog", "read") is False
    assert casbin.enforce(GUEST, f"library:{MOVIES}", "catalog", "write") is False
    assert casbin.enforce(GUEST, "global", "playback:own", "write") is True


def test_a_wildcard_grant_covers_every_library_and_object_prefix() -> None:
    casbin = engine(("p", ALICE, "library:*", "catalog", "*"), ("p", ALICE, "*", "admin:*", "read"))

    assert casbin.enforce(ALICE, f"library:{SHOWS}", "catalog", "write") is True
    assert casbin.enforce(ALICE, "global", "catalog", "read") is False
    assert casbin.enforce(ALICE, "global", "admin:users", "read") is True
    assert casbin.enforce(ALICE, "global", "admin:users", "write") is False


def test_roles_for_follows_role_inheritance() -> None:
    casbin = engine(("g", CHILD, "role:kids"), ("g", ALICE, "role:admin"))

    assert casbin.roles_for(CHILD) == {"kids", "guest"}
    assert casbin.roles_for(ALICE) == {"admin"}
    assert casbin.roles_for(GUEST) == set()


def test_libraries_readable_is_all_for_users_and_admins() -> None:
    casbin = engine()

    assert casbin.libraries_readable([ALICE, "role:user"]) is ALL
    assert casbin.libraries_readable(["role:admin"]) is ALL


def test_libraries_readable_lists_grants_of_every_subject_and_role() -> None:
    casbin = engine(
        ("p", CHILD, f"library:{MOVIES}", "catalog", "read"),
        ("p", "role:kids", f"library:{SHOWS}", "catalog", "read"),
        ("p", CHILD, "library:0190*", "catalog", "read"),
        ("p", GUEST, f"library:{SHOWS}", "catalog", "write"),
    )

    assert casbin.libraries_readable([CHILD, "role:kids"]) == {MOVIES, SHOWS}
    assert casbin.libraries_readable([GUEST, "role:guest"]) == set()


@pytest.mark.parametrize(
    ("scopes", "required", "allowed"),
    [
        (["catalog:read"], "catalog:read", True),
        (["catalog:read"], "catalog:write", False),
        (["catalog:*"], "catalog:write", True),
        (["playback:read", "playback:write"], "playback:write", True),
        (["playback:read"], "catalog:read", False),
        (["admin:*"], "admin:write", True),
        (["admin:*"], "catalog:read", False),
        (["*"], "legacy:read", True),
        (["legacy:read"], "legacy:read", True),
        (["legacy:read"], "legacy:write", False),
        ([], "catalog:read", False),
    ],
)
def test_scope_allows_with_keymatch_wildcards(
    scopes: list[str], required: str, allowed: bool
) -> None:
    assert CasbinEngine.scope_allows(scopes, required) is allowed


def test_the_seed_file_parses_into_rules() -> None:
    rules = read_seed()

    assert ("p", "role:admin", "*", "*", "*") in rules
    assert ("g", "role:kids", "role:guest") in rules
    assert all(not rule[0].startswith("#") for rule in rules)


async def test_rules_round_trip_through_postgresql(pool: asyncpg.Pool) -> None:
    grant = ("p", GUEST, f"library:{MOVIES}", "catalog", "read")
    role = ("g", GUEST, "role:guest")
    async with pool.acquire() as conn:
        assert await save_rule(conn, grant) is True
        assert await save_rule(conn, role) is True
        assert await save_rule(conn, grant) is False

        assert await load_rules(conn) == [grant, role]

        assert await remove_rule(conn, grant) is True
        assert await remove_rule(conn, grant) is False
        assert await load_rules(conn) == [role]
        stored = await conn.fetchrow("SELECT v2, v3, created_at, updated_at FROM casbin_rule")
    assert stored["v2"] is None and stored["v3"] is None
    assert stored["created_at"] == stored["updated_at"]


async def test_grants_and_roles_persist_and_reload(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        writer = await CasbinEngine.from_database(conn)
        other_replica = await CasbinEngine.from_database(conn)

        assert await writer.add_grant(conn, GUEST, MOVIES) is True
        assert await writer.assign_role(conn, GUEST, "guest") is True

        assert writer.enforce(GUEST, f"library:{MOVIES}", "catalog", "read") is True
        assert other_replica.enforce(GUEST, f"library:{MOVIES}", "catalog", "read") is False
        await other_replica.reload(conn)
        assert other_replica.enforce(GUEST, f"library:{MOVIES}", "catalog", "read") is True
        assert other_replica.roles_for(GUEST) == {"guest"}

        assert await writer.remove_grant(conn, GUEST, MOVIES) is True
        assert await writer.unassign_role(conn, GUEST, "guest") is True
        assert writer.enforce(GUEST, f"library:{MOVIES}", "catalog", "read") is False
        assert writer.roles_for(GUEST) == set()
        assert await load_rules(conn) == []


def test_enforce_timing(capsys: pytest.CaptureFixture[str]) -> None:
    casbin = engine(*(("p", f"user:{n}", f"library:{n}", "catalog", "read") for n in range(200)))
    for _ in range(500):
        casbin.enforce("role:user", f"library:{MOVIES}", "catalog", "read")
    median = casbin.times.median()
    assert median is not None
    with capsys.disabled():
        print(f"\ncasbin_enforce_median {median * 1e6:.1f} us (seed + 200 grants)")
