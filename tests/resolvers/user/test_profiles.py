"""Profiles: validation, ownership, the kids rule and PIN guessing."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from infra.errors import BadUserInput, Forbidden, NotFound, RateLimited
from infra.ratelimit import InProcessLimiter
from infra.tokens import KeyRing, verify_access_token
from resolvers.user.profiles import (
    ProfileFields,
    ProfileNameTaken,
    WrongPin,
    create_profile,
    list_profiles,
    switch_profile,
    update_profile,
)
from tests.resolvers.user.conftest import MakeUser, principal_of, signed_in

RATINGS = ("G", "PG", "PG-13")  # the catalog policy's table, as the mutations pass it


async def test_a_profile_is_validated_before_anything_is_stored(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    alice = principal_of(await make_user())
    cases = [
        (ProfileFields(name="  "), "name"),
        (ProfileFields(name="Kid", max_rating="PG-99"), "maxRating"),
        (ProfileFields(name="Kid", pin="12"), "pin"),
        (ProfileFields(name="Kid", pin="abcd"), "pin"),
        (ProfileFields(name="Kid", avatar_url="javascript:alert(1)"), "avatarUrl"),
        (ProfileFields(name="Kid", audio_language="en; DROP"), "audioLanguage"),
        (ProfileFields(name="Kid", library_ids=[uuid.uuid4()]), "libraryIds"),
    ]
    for fields, field in cases:
        with pytest.raises(BadUserInput) as raised:
            await create_profile(pool, alice, fields, ratings=RATINGS)
        assert raised.value.extensions["field"] == field
    assert await pool.fetchval("SELECT count(*) FROM profiles") == 1  # the account's first


async def test_names_are_unique_per_account_not_across_accounts(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    alice = principal_of(await make_user("alice"))
    bob = principal_of(await make_user("bob"))
    await create_profile(pool, alice, ProfileFields(name="Movies"), ratings=RATINGS)

    await create_profile(pool, bob, ProfileFields(name="movies"), ratings=RATINGS)
    with pytest.raises(ProfileNameTaken):
        await create_profile(pool, alice, ProfileFields(name="MOVIES"), ratings=RATINGS)


async def test_a_kids_profile_manages_nothing(pool: asyncpg.Pool, make_user: MakeUser) -> None:
    user_id = await make_user()
    kids = principal_of(user_id, is_kids=True)
    (profile,) = await list_profiles(pool, user_id)

    with pytest.raises(Forbidden):
        await create_profile(pool, kids, ProfileFields(name="Grown-up"), ratings=RATINGS)
    with pytest.raises(Forbidden):
        await update_profile(
            pool, kids, profile["id"], ProfileFields(max_rating=None), ratings=RATINGS
        )


async def test_another_accounts_profile_is_not_found(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    alice_id = await make_user("alice")
    bob = principal_of(await make_user("bob"))
    (alice_profile,) = await list_profiles(pool, alice_id)

    with pytest.raises(NotFound):
        await update_profile(
            pool, bob, alice_profile["id"], ProfileFields(name="Mine"), ratings=RATINGS
        )
    assert (await list_profiles(pool, alice_id))[0]["name"] == "alice"


async def test_wrong_pins_lock_the_profile_for_a_while(
    pool: asyncpg.Pool, make_user: MakeUser, ring: KeyRing, limiter: InProcessLimiter
) -> None:
    user_id = await make_user()
    tokens = await signed_in(pool, ring)
    locked = await create_profile(
        pool, principal_of(user_id), ProfileFields(name="Locked", pin="2468"), ratings=RATINGS
    )
    switch = {
        "ring": ring,
        "limiter": limiter,
        "user_id": user_id,
        "session_id": tokens.session_id,
        "profile_id": locked["id"],
    }
    for guess in ("0000", "1111", "2222", "3333", "4444"):
        with pytest.raises(WrongPin):
            await switch_profile(pool, pin=guess, **switch)  # type: ignore[arg-type]

    with pytest.raises(RateLimited):
        await switch_profile(pool, pin="2468", **switch)  # type: ignore[arg-type]
    await limiter.record_success(f"pin:{locked['id']}")
    switched = await switch_profile(pool, pin="2468", **switch)  # type: ignore[arg-type]
    assert verify_access_token(ring, switched.access_token).profile_id == str(locked["id"])
