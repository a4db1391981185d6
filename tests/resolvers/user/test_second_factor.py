"""TOTP enrolment stores nothing until confirmed; confirmation needs a real code."""

from __future__ import annotations

import asyncpg
import pyotp
import pytest

from infra.errors import BadUserInput
from resolvers.user.second_factor import (
    begin_totp_enrollment,
    confirm_totp_enrollment,
    disable_totp,
)
from resolvers.user.signin import InvalidCredentials
from tests.resolvers.user.conftest import PASSWORD, MakeUser


async def test_beginning_stores_nothing(pool: asyncpg.Pool, make_user: MakeUser) -> None:
    user_id = await make_user()

    enrollment = await begin_totp_enrollment(pool, user_id)

    assert len(enrollment.secret) == 32
    assert enrollment.provisioning_uri.startswith("otpauth://totp/Revenge:alice?secret=")
    assert await pool.fetchval("SELECT totp_secret FROM users") is None


async def test_a_wrong_code_or_a_weak_secret_enrols_nothing(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    user_id = await make_user()
    secret = (await begin_totp_enrollment(pool, user_id)).secret
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"

    with pytest.raises(BadUserInput) as wrong_code:
        await confirm_totp_enrollment(pool, user_id, secret, wrong)
    with pytest.raises(BadUserInput) as weak_secret:
        await confirm_totp_enrollment(pool, user_id, "AAAAAAAA", "123456")

    assert wrong_code.value.extensions["field"] == "code"
    assert weak_secret.value.extensions["field"] == "secret"
    assert await pool.fetchval("SELECT totp_secret FROM users") is None


async def test_confirming_twice_is_refused_and_disabling_needs_the_password(
    pool: asyncpg.Pool, make_user: MakeUser
) -> None:
    user_id = await make_user()
    secret = (await begin_totp_enrollment(pool, user_id)).secret
    codes = await confirm_totp_enrollment(pool, user_id, secret, pyotp.TOTP(secret).now())
    assert len(set(codes)) == 10

    with pytest.raises(BadUserInput):
        await begin_totp_enrollment(pool, user_id)
    with pytest.raises(InvalidCredentials):
        await disable_totp(pool, user_id, "not the password")
    assert await pool.fetchval("SELECT totp_secret FROM users") == secret

    row = await disable_totp(pool, user_id, PASSWORD)
    assert (row["totp_secret"], row["totp_last_step"], row["recovery_code_hashes"]) == (
        None,
        None,
        [],
    )
