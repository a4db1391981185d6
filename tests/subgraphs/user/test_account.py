"""The signed-in user's own account: password, sessions, API keys and profiles."""

from __future__ import annotations

import asyncpg
import pytest

from infra.errors import Unauthenticated
from infra.tokens import hash_token, verify_access_token
from tests.subgraphs.user.conftest import ADMIN_NAME, ADMIN_PASSWORD, Api

CHANGE_PASSWORD = """
mutation($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new) {
    __typename
    ... on ChangePasswordPayload { revokedSessionCount }
    ... on AuthError { code field }
  }
}
"""
CREATE_KEY = """
mutation($name: String!, $scopes: [String!]!) {
  createApiKey(name: $name, scopes: $scopes) {
    __typename
    ... on CreateApiKeyPayload { key apiKey { id name prefix scopes revokedAt } }
    ... on AuthError { code field }
  }
}
"""
REVOKE_KEY = """
mutation($id: ID!) {
  revokeApiKey(id: $id) { __typename ... on RevokePayload { revokedId } ... on AuthError { code } }
}
"""
CREATE_PROFILE = """
mutation($input: CreateProfileInput!) {
  createProfile(input: $input) {
    __typename
    ... on ProfilePayload {
      profile { id name isKids maxRating allowUnrated blockedTags libraryIds hasPin }
    }
    ... on AuthError { code message field }
  }
}
"""
SWITCH = """
mutation($profileId: ID!, $pin: String) {
  switchProfile(profileId: $profileId, pin: $pin) {
    __typename
    ... on SwitchProfilePayload { accessToken expiresIn profile { id name } }
    ... on AuthError { code field }
  }
}
"""


async def test_changing_the_password_revokes_every_other_session(
    api: Api, pool: asyncpg.Pool
) -> None:
    here = await api.setup_admin()
    elsewhere = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, device="tablet")
    before = await pool.fetchval("SELECT password_changed_at FROM users")

    data = await api.data(
        CHANGE_PASSWORD, token=here["accessToken"], current=ADMIN_PASSWORD, new="a new passphrase"
    )

    assert data["changePassword"] == {
        "__typename": "ChangePasswordPayload",
        "revokedSessionCount": 1,
    }
    assert await pool.fetchval("SELECT password_changed_at FROM users") > before
    with pytest.raises(Unauthenticated):
        await api.context(token=elsewhere["accessToken"])
    assert (await api.data("{ me { name } }", token=here["accessToken"]))["me"] == {
        "name": ADMIN_NAME
    }
    assert (await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD))["code"] == "INVALID_CREDENTIALS"
    assert (await api.sign_in(ADMIN_NAME, "a new passphrase"))["__typename"] == "SignInPayload"


async def test_changing_the_password_needs_the_current_one(api: Api, pool: asyncpg.Pool) -> None:
    here = await api.setup_admin()
    hash_before = await pool.fetchval("SELECT password_hash FROM users")

    wrong = await api.data(
        CHANGE_PASSWORD, token=here["accessToken"], current="not it", new="a new passphrase"
    )
    short = await api.data(
        CHANGE_PASSWORD, token=here["accessToken"], current=ADMIN_PASSWORD, new="short"
    )

    assert wrong["changePassword"] == {
        "__typename": "AuthError",
        "code": "INVALID_CREDENTIALS",
        "field": "currentPassword",
    }
    assert short["changePassword"] == {
        "__typename": "AuthError",
        "code": "INVALID_INPUT",
        "field": "newPassword",
    }
    assert await pool.fetchval("SELECT password_hash FROM users") == hash_before


async def test_sessions_lists_mine_and_marks_the_current_one(api: Api) -> None:
    here = await api.setup_admin()
    other = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, device="tv")

    data = await api.data(
        "{ sessions { id device clientAddress isCurrent revokedAt } }", token=here["accessToken"]
    )

    current = verify_access_token(api.ring, here["accessToken"]).session_id
    other_id = verify_access_token(api.ring, other["accessToken"]).session_id
    assert sorted(data["sessions"], key=lambda s: s["isCurrent"]) == [
        {"id": other_id, "device": "tv", "clientAddress": "192.0.2.1", "isCurrent": False,
         "revokedAt": None},
        {"id": current, "device": None, "clientAddress": "192.0.2.1", "isCurrent": True,
         "revokedAt": None},
    ]  # fmt: skip


async def test_revoking_another_session_signs_it_out(api: Api) -> None:
    here = await api.setup_admin()
    other = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD, device="tv")
    other_id = verify_access_token(api.ring, other["accessToken"]).session_id

    data = await api.data(
        "mutation($id: ID!) { revokeSession(id: $id) { __typename "
        "... on RevokePayload { revokedId } ... on AuthError { code } } }",
        token=here["accessToken"],
        id=other_id,
    )

    assert data["revokeSession"] == {"__typename": "RevokePayload", "revokedId": other_id}
    with pytest.raises(Unauthenticated):
        await api.context(token=other["accessToken"])


async def test_an_api_key_is_shown_once_stored_hashed_and_revocable(
    api: Api, pool: asyncpg.Pool
) -> None:
    admin = await api.setup_admin()

    created = (
        await api.data(
            CREATE_KEY, token=admin["accessToken"], name="Home Assistant", scopes=["catalog:read"]
        )
    )["createApiKey"]

    key = created["key"]
    assert key.startswith("rvg_")
    assert created["apiKey"]["prefix"] == key[:8]
    assert created["apiKey"]["scopes"] == ["catalog:read"]
    row = await pool.fetchrow("SELECT * FROM api_keys")
    assert row["key_hash"] == hash_token(key)
    assert not any(key in str(value) for value in row.values())
    listed = await api.data("{ apiKeys { id name prefix } }", token=admin["accessToken"])
    assert listed["apiKeys"] == [
        {"id": created["apiKey"]["id"], "name": "Home Assistant", "prefix": key[:8]}
    ]
    assert "key" not in str(listed)
    me = await api.data("{ me { name } }", api_key=key)
    assert me == {"me": {"name": ADMIN_NAME}}

    revoked = await api.data(REVOKE_KEY, token=admin["accessToken"], id=created["apiKey"]["id"])

    assert revoked["revokeApiKey"] == {
        "__typename": "RevokePayload",
        "revokedId": created["apiKey"]["id"],
    }
    with pytest.raises(Unauthenticated):
        await api.context(api_key=key)


async def test_a_key_cannot_exceed_the_scopes_of_its_maker(api: Api, pool: asyncpg.Pool) -> None:
    admin = await api.setup_admin()
    user_id = await api.create_user(admin["accessToken"], "bob", "bobs password")
    bob = await api.sign_in("bob", "bobs password")
    del user_id

    data = await api.data(CREATE_KEY, token=bob["accessToken"], name="mine", scopes=["admin:*"])

    assert data["createApiKey"] == {
        "__typename": "AuthError",
        "code": "FORBIDDEN",
        "field": "scopes",
    }
    assert await pool.fetchval("SELECT count(*) FROM api_keys") == 0


async def test_an_api_key_cannot_change_its_owners_credentials(api: Api) -> None:
    admin = await api.setup_admin()
    key = (await api.data(CREATE_KEY, token=admin["accessToken"], name="ops", scopes=["admin:*"]))[
        "createApiKey"
    ]["key"]

    password = await api.data(CHANGE_PASSWORD, api_key=key, current=ADMIN_PASSWORD, new="x" * 12)
    minted = await api.data(CREATE_KEY, api_key=key, name="another", scopes=["catalog:read"])

    assert password["changePassword"]["code"] == "FORBIDDEN"
    assert minted["createApiKey"]["code"] == "FORBIDDEN"


async def test_someone_elses_key_cannot_be_revoked(api: Api, pool: asyncpg.Pool) -> None:
    admin = await api.setup_admin()
    await api.create_user(admin["accessToken"], "bob", "bobs password")
    bob = await api.sign_in("bob", "bobs password")
    admin_key = (
        await api.data(CREATE_KEY, token=admin["accessToken"], name="ops", scopes=["admin:*"])
    )["createApiKey"]["apiKey"]

    data = await api.data(REVOKE_KEY, token=bob["accessToken"], id=admin_key["id"])

    assert data["revokeApiKey"] == {"__typename": "AuthError", "code": "NOT_FOUND"}
    assert await pool.fetchval("SELECT revoked_at FROM api_keys") is None


async def test_profiles_are_created_listed_and_validated(api: Api) -> None:
    admin = await api.setup_admin()

    kids = await api.data(
        CREATE_PROFILE,
        token=admin["accessToken"],
        input={"name": "Kids", "isKids": True, "maxRating": "pg", "blockedTags": ["Horror"]},
    )
    taken = await api.data(CREATE_PROFILE, token=admin["accessToken"], input={"name": "kids"})
    bad_rating = await api.data(
        CREATE_PROFILE, token=admin["accessToken"], input={"name": "Teen", "maxRating": "PG-99"}
    )

    profile = kids["createProfile"]["profile"]
    assert profile == {
        "id": profile["id"],
        "name": "Kids",
        "isKids": True,
        "maxRating": "PG",
        "allowUnrated": False,
        "blockedTags": ["horror"],
        "libraryIds": None,
        "hasPin": False,
    }
    assert taken["createProfile"]["code"] == "NAME_TAKEN"
    assert bad_rating["createProfile"]["code"] == "INVALID_INPUT"
    assert bad_rating["createProfile"]["field"] == "maxRating"
    me = await api.data("{ me { profiles { name } } }", token=admin["accessToken"])
    assert me["me"]["profiles"] == [{"name": ADMIN_NAME}, {"name": "Kids"}]


async def test_updating_a_profile_changes_only_the_given_fields(api: Api) -> None:
    admin = await api.setup_admin()
    created = await api.data(
        CREATE_PROFILE,
        token=admin["accessToken"],
        input={"name": "Teen", "maxRating": "PG-13", "pin": "1234"},
    )
    profile_id = created["createProfile"]["profile"]["id"]

    data = await api.data(
        "mutation($id: ID!, $input: UpdateProfileInput!) { updateProfile(id: $id, input: $input) {"
        " __typename ... on ProfilePayload { profile { name maxRating audioLanguage hasPin } } } }",
        token=admin["accessToken"],
        id=profile_id,
        input={"maxRating": None, "audioLanguage": "de", "pin": None},
    )

    assert data["updateProfile"]["profile"] == {
        "name": "Teen",
        "maxRating": None,
        "audioLanguage": "de",
        "hasPin": False,
    }


async def test_switching_to_a_pin_protected_profile_needs_the_pin(
    api: Api, pool: asyncpg.Pool
) -> None:
    admin = await api.setup_admin()
    created = await api.data(
        CREATE_PROFILE, token=admin["accessToken"], input={"name": "Private", "pin": "4821"}
    )
    profile_id = created["createProfile"]["profile"]["id"]
    assert await pool.fetchval("SELECT pin_hash FROM profiles WHERE name = 'Private'") != "4821"

    without = await api.data(SWITCH, token=admin["accessToken"], profileId=profile_id)
    wrong = await api.data(SWITCH, token=admin["accessToken"], profileId=profile_id, pin="0000")
    right = await api.data(SWITCH, token=admin["accessToken"], profileId=profile_id, pin="4821")

    assert without["switchProfile"] == {
        "__typename": "AuthError",
        "code": "WRONG_PIN",
        "field": "pin",
    }
    assert wrong["switchProfile"]["code"] == "WRONG_PIN"
    switched = right["switchProfile"]
    assert switched["profile"] == {"id": profile_id, "name": "Private"}
    assert switched["expiresIn"] == 900
    claims = verify_access_token(api.ring, switched["accessToken"])
    assert claims.profile_id == profile_id
    assert claims.session_id == verify_access_token(api.ring, admin["accessToken"]).session_id
    assert str(await pool.fetchval("SELECT profile_id FROM auth_sessions")) == profile_id


async def test_switching_to_a_kids_profile_puts_its_limits_on_the_session(
    api: Api, pool: asyncpg.Pool
) -> None:
    admin = await api.setup_admin()
    created = await api.data(
        CREATE_PROFILE,
        token=admin["accessToken"],
        input={"name": "Kids", "isKids": True, "maxRating": "PG"},
    )
    kids_id = created["createProfile"]["profile"]["id"]

    switched = await api.data(SWITCH, token=admin["accessToken"], profileId=kids_id)
    kids_token = switched["switchProfile"]["accessToken"]
    context = await api.context(token=kids_token)

    assert context.principal.is_kids is True
    assert context.principal.max_rating == "PG"
    refused = await api.data(CREATE_PROFILE, token=kids_token, input={"name": "Unlimited"})
    assert refused["createProfile"]["code"] == "FORBIDDEN"
    users = await api.run("{ users { name } }", token=kids_token)
    assert [error.extensions["code"] for error in users.errors] == ["FORBIDDEN"]


async def test_switching_to_a_profile_of_another_account_is_not_found(api: Api) -> None:
    admin = await api.setup_admin()
    await api.create_user(admin["accessToken"], "bob", "bobs password")
    bob = await api.sign_in("bob", "bobs password")
    bob_me = await api.data("{ me { profiles { id } } }", token=bob["accessToken"])
    bob_profile = bob_me["me"]["profiles"][0]["id"]

    data = await api.data(SWITCH, token=admin["accessToken"], profileId=bob_profile)

    assert data["switchProfile"]["code"] == "NOT_FOUND"


async def test_deleting_a_profile_signs_out_its_sessions_and_keeps_the_last(
    api: Api, pool: asyncpg.Pool
) -> None:
    admin = await api.setup_admin()
    created = await api.data(CREATE_PROFILE, token=admin["accessToken"], input={"name": "Guest"})
    guest_id = created["createProfile"]["profile"]["id"]
    other = await api.sign_in(ADMIN_NAME, ADMIN_PASSWORD)
    await api.data(SWITCH, token=other["accessToken"], profileId=guest_id)
    delete = (
        "mutation($id: ID!) { deleteProfile(id: $id) { __typename "
        "... on DeleteProfilePayload { deletedId } ... on AuthError { code } } }"
    )

    deleted = await api.data(delete, token=admin["accessToken"], id=guest_id)
    own = verify_access_token(api.ring, admin["accessToken"]).profile_id
    last = await api.data(delete, token=admin["accessToken"], id=own)

    assert deleted["deleteProfile"] == {"__typename": "DeleteProfilePayload", "deletedId": guest_id}
    with pytest.raises(Unauthenticated):
        await api.context(token=other["accessToken"])
    assert last["deleteProfile"] == {"__typename": "AuthError", "code": "INVALID_INPUT"}
    assert await pool.fetchval("SELECT count(*) FROM profiles") == 1
