"""Setup, sign-in (with lockout and a second factor), refresh rotation and sign-out."""

from __future__ import annotations

import time

import asyncpg
import pyotp
import pytest

from infra.errors import Unauthenticated
from infra.totp import new_totp_secret
from tests.subgraphs.user.conftest import ADMIN_NAME, ADMIN_PASSWORD, SIGN_IN_FIELDS, Api

SETUP = (
    "mutation($name: String!, $password: String!) { setup(name: $name, password: $password) {"
    + SIGN_IN_FIELDS
    + "} }"
)
REFRESH = "mutation($refresh: String!) { refreshToken(token: $refresh) {" + SIGN_IN_FIELDS + "} }"
SIGN_OUT = """
mutation { signOut { __typename ... on SignOutPayload { sessionId } ... on AuthError { code } } }
"""
ME = "{ me { id name roles hasSecondFactor profiles { name isKids } } }"


async def test_setup_creates_the_first_admin_and_signs_them_in(api: Api) -> None:
    assert await api.data("{ setupRequired }") == {"setupRequired": True}

    payload = await api.setup_admin()

    assert payload["user"]["name"] == ADMIN_NAME
    assert payload["user"]["roles"] == ["ADMIN"]
    assert payload["expiresIn"] == 900
    assert await api.data("{ setupRequired }") == {"setupRequired": False}
    me = await api.data(ME, token=payload["accessToken"])
    assert me["me"] == {
        "id": payload["user"]["id"],
        "name": ADMIN_NAME,
        "roles": ["ADMIN"],
        "hasSecondFactor": False,
        "profiles": [{"name": ADMIN_NAME, "isKids": False}],
    }


async def test_setup_a_second_time_is_closed_and_changes_nothing(
    api: Api, pool: asyncpg.Pool
) -> None:
    await api.setup_admin()
    users_before = await pool.fetch("SELECT * FROM users ORDER BY id")
    sessions_before = await pool.fetchval("SELECT count(*) FROM auth_sessions")

    data = await api.data(SETUP, name="intruder", password="another password")

    assert data["setup"]["__typename"] == "AuthError"
    assert data["setup"]["code"] == "SETUP_CLOSED"
    assert await pool.fetch("SELECT * FROM users ORDER BY id") == users_before
    assert await pool.fetchval("SELECT count(*) FROM auth_sessions") == sessions_before


async def test_setup_refuses_a_short_password(api: Api, pool: asyncpg.Pool) -> None:
    data = await api.data(SETUP, name="admin", password="short")

    assert data["setup"]["code"] == "INVALID_INPUT"
    assert data["setup"]["field"] == "password"
    assert await pool.fetchval("SELECT count(*) FROM users") == 0


async def test_me_is_null_for_an_anonymous_caller(api: Api) -> None:
    assert await api.data(ME) == {"me": None}


async def test_sign_in_with_the_right_password(api: Api, pool: asyncpg.Pool) -> None:
    await api.setup_admin()

    payload = await api.sign_in(ADMIN_NAME.upper(), ADMIN_PASSWORD, device="phone")

    assert payload["__typename"] == "SignInPayload"
    assert payload["user"]["name"] == ADMIN_NAME
    session = await pool.fetchrow(
        "SELECT device, client_address FROM auth_sessions ORDER BY created_at DESC LIMIT 1"
    )
    assert dict(session) == {"device": "phone", "client_address": "192.0.2.1"}


async def test_sign_in_with_a_wrong_password_or_an_unknown_name_says_the_same(api: Api) -> None:
    await api.setup_admin()

    wrong = await api.sign_in(ADMIN_NAME, "not the password")
    unknown = await api.sign_in("nobody", ADMIN_PASSWORD)

    assert wrong == {
        "__typename": "AuthError",
        "code": "INVALID_CREDENTIALS",
        "message": "wrong name or password",
        "field": None,
    }
    assert unknown == wrong


async def test_five_failures_lock_the_account_even_for_the_right_password(api: Api) -> None:
    await api.setup_admin()
    for attempt in range(5):
        # a different address each time: the account alone locks
        failed = await api.sign_in(ADMIN_NAME, f"guess {attempt}", address=f"198.51.100.{attempt}")
        assert failed["code"] == "INVALID_CREDENTIALS"

    locked = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, address="203.0.113.9")

    assert locked["__typename"] == "AuthError"
    assert locked["code"] == "RATE_LIMITED"
    assert locked["message"].startswith("too many failed sign-ins; try again in ")


async def test_sign_in_audit_rows_record_successes_and_failures(
    api: Api, pool: asyncpg.Pool
) -> None:
    await api.setup_admin()
    await api.sign_in(ADMIN_NAME, "wrong password", address="198.51.100.7")
    await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, address="198.51.100.8")

    rows = await pool.fetch(
        "SELECT action, result, actor_name, client_address FROM audit_events "
        "WHERE action = 'signin' ORDER BY created_at, id"
    )

    assert [tuple(row) for row in rows] == [
        ("signin", "ok", ADMIN_NAME, "192.0.2.1"),  # setup signs the admin in
        ("signin", "failed", ADMIN_NAME, "198.51.100.7"),
        ("signin", "ok", ADMIN_NAME, "198.51.100.8"),
    ]


async def _enrol_totp(api: Api, token: str) -> tuple[str, list[str]]:
    begun = await api.data(
        "mutation { beginTotpEnrollment { __typename "
        "... on BeginTotpEnrollmentPayload { secret provisioningUri } } }",
        token=token,
    )
    secret = begun["beginTotpEnrollment"]["secret"]
    assert begun["beginTotpEnrollment"]["provisioningUri"].startswith("otpauth://totp/Revenge:")
    confirmed = await api.data(
        "mutation($secret: String!, $code: String!) { confirmTotpEnrollment("
        "secret: $secret, code: $code) { __typename "
        "... on ConfirmTotpEnrollmentPayload { recoveryCodes } ... on AuthError { code } } }",
        token=token,
        secret=secret,
        code=pyotp.TOTP(secret).now(),
    )
    codes: list[str] = confirmed["confirmTotpEnrollment"]["recoveryCodes"]
    return secret, codes


async def test_a_second_factor_is_required_then_accepted(api: Api, pool: asyncpg.Pool) -> None:
    admin = await api.setup_admin()
    secret, codes = await _enrol_totp(api, admin["accessToken"])
    assert len(codes) == 10

    without = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD)
    wrong = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, secondFactor="000000")
    # the enrolment used the current step; a code for the next step is still fresh
    fresh = pyotp.TOTP(secret).at(time.time(), counter_offset=1)
    accepted = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, secondFactor=fresh)
    replayed = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, secondFactor=fresh)

    assert without["code"] == "SECOND_FACTOR_REQUIRED"
    assert wrong["code"] == "INVALID_CREDENTIALS"
    assert accepted["__typename"] == "SignInPayload"
    assert replayed["code"] == "INVALID_CREDENTIALS"
    me = await api.data("{ me { hasSecondFactor } }", token=accepted["accessToken"])
    assert me == {"me": {"hasSecondFactor": True}}
    stored = await pool.fetchval("SELECT recovery_code_hashes FROM users")
    assert len(stored) == 10
    assert not any(code.replace("-", "") in hashed for code in codes for hashed in stored)


async def test_a_recovery_code_works_once(api: Api) -> None:
    admin = await api.setup_admin()
    _, codes = await _enrol_totp(api, admin["accessToken"])

    first = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, secondFactor=codes[3].upper())
    again = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, secondFactor=codes[3])
    other = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, secondFactor=codes[4])

    assert first["__typename"] == "SignInPayload"
    assert again["code"] == "INVALID_CREDENTIALS"
    assert other["__typename"] == "SignInPayload"


async def test_disabling_the_second_factor_needs_the_password(api: Api) -> None:
    admin = await api.setup_admin()
    await _enrol_totp(api, admin["accessToken"])
    disable = (
        "mutation($password: String!) { disableTotp(password: $password) { __typename "
        "... on UpdateUserPayload { user { hasSecondFactor } } ... on AuthError { code } } }"
    )

    refused = await api.data(disable, token=admin["accessToken"], password="wrong password")
    done = await api.data(disable, token=admin["accessToken"], password=ADMIN_PASSWORD)

    assert refused["disableTotp"] == {"__typename": "AuthError", "code": "INVALID_CREDENTIALS"}
    assert done["disableTotp"] == {
        "__typename": "UpdateUserPayload",
        "user": {"hasSecondFactor": False},
    }
    assert (await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD))["__typename"] == "SignInPayload"


async def test_refresh_rotates_the_refresh_token(api: Api) -> None:
    signed_in = await api.setup_admin()

    rotated = (await api.data(REFRESH, refresh=signed_in["refreshToken"]))["refreshToken"]
    again = (await api.data(REFRESH, refresh=rotated["refreshToken"]))["refreshToken"]

    assert rotated["__typename"] == "SignInPayload"
    assert rotated["refreshToken"] != signed_in["refreshToken"]
    assert rotated["user"] == signed_in["user"]
    assert again["__typename"] == "SignInPayload"


async def test_a_reused_refresh_token_is_refused(api: Api) -> None:
    signed_in = await api.setup_admin()
    await api.data(REFRESH, refresh=signed_in["refreshToken"])

    reused = (await api.data(REFRESH, refresh=signed_in["refreshToken"]))["refreshToken"]

    assert reused["code"] == "INVALID_REFRESH_TOKEN"


async def test_a_reused_refresh_token_revokes_the_session(api: Api, pool: asyncpg.Pool) -> None:
    signed_in = await api.setup_admin()
    rotated = (await api.data(REFRESH, refresh=signed_in["refreshToken"]))["refreshToken"]

    await api.data(REFRESH, refresh=signed_in["refreshToken"])

    assert await pool.fetchval("SELECT revoked_at IS NOT NULL FROM auth_sessions") is True
    later = (await api.data(REFRESH, refresh=rotated["refreshToken"]))["refreshToken"]
    assert later["code"] == "INVALID_REFRESH_TOKEN"


async def test_an_unknown_refresh_token_is_refused(api: Api) -> None:
    data = await api.data(REFRESH, refresh="not-a-token")

    assert data["refreshToken"]["code"] == "INVALID_REFRESH_TOKEN"


async def test_sign_out_ends_the_session(api: Api, pool: asyncpg.Pool) -> None:
    signed_in = await api.setup_admin()

    data = await api.data(SIGN_OUT, token=signed_in["accessToken"])

    session_id = await pool.fetchval("SELECT id FROM auth_sessions")
    assert data["signOut"] == {"__typename": "SignOutPayload", "sessionId": str(session_id)}
    refreshed = (await api.data(REFRESH, refresh=signed_in["refreshToken"]))["refreshToken"]
    assert refreshed["code"] == "INVALID_REFRESH_TOKEN"
    with pytest.raises(Unauthenticated):  # the gateway refuses the token of a closed session
        await api.context(token=signed_in["accessToken"])


async def test_one_address_guessing_many_accounts_is_locked_out(
    api: Api, pool: asyncpg.Pool
) -> None:
    await api.setup_admin()
    for attempt in range(5):  # five different (unknown) accounts, one address
        failed = await api.sign_in(f"user{attempt}", "guess", address="198.51.100.66")
        assert failed["code"] == "INVALID_CREDENTIALS"

    from_there = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, address="198.51.100.66")
    elsewhere = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, address="203.0.113.5")

    assert from_there["code"] == "RATE_LIMITED"
    assert elsewhere["__typename"] == "SignInPayload"
    locked = await pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'signin' AND result = 'locked'"
    )
    assert locked == 1


async def test_refused_setup_and_second_factor_failures_stay_on_the_record(
    api: Api, pool: asyncpg.Pool
) -> None:
    await api.setup_admin()
    await api.data('mutation { setup(name: "late", password: "a-long-passphrase") { __typename } }')
    await pool.execute(
        "UPDATE users SET totp_secret = $1 WHERE name = $2", new_totp_secret(), ADMIN_NAME
    )
    wrong = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, secondFactor="000000")

    assert wrong["code"] == "INVALID_CREDENTIALS"
    rows = await pool.fetch(
        "SELECT action, result, details FROM audit_events "
        "WHERE (action = 'setup' AND result = 'refused') "
        "OR (action = 'signin' AND result = 'failed') ORDER BY created_at"
    )
    assert [(r["action"], r["result"]) for r in rows] == [
        ("setup", "refused"),
        ("signin", "failed"),
    ]
    assert rows[1]["details"] == {"reason": "second factor"}
