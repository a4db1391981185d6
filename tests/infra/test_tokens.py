"""Access tokens, the key ring, refresh tokens and API keys."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.errors import Unauthenticated
from infra.tokens import (
    AccessClaims,
    InvalidAccessToken,
    KeyRing,
    KeyRingError,
    constant_time_equals,
    hash_token,
    issue_access_token,
    new_api_key,
    new_refresh_token,
    verify_access_token,
)
from tests.support.clock import T0, Clock


@pytest.fixture
def ring(tmp_path: Path, clock: Clock) -> KeyRing:
    return KeyRing.open(tmp_path / "keys.json", clock=clock)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(now: float, **overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "iss": "revenge",
        "aud": "revenge-api",
        "sub": "user-1",
        "pid": "profile-1",
        "sid": "session-1",
        "roles": ["user"],
        "scopes": [],
        "iat": int(now),
        "exp": int(now) + 900,
        "jti": "jti-1",
    }
    claims.update(overrides)
    return claims


def sign_with(private_key: Ed25519PrivateKey, kid: str, claims: dict[str, object]) -> str:
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"})


def current_private_key(ring: KeyRing) -> Ed25519PrivateKey:
    return ring.signing_key()[1]


def reason_for(ring: KeyRing, token: str) -> str:
    with pytest.raises(InvalidAccessToken) as caught:
        verify_access_token(ring, token)
    assert caught.value.message == "Invalid or expired access token"
    assert caught.value.extensions == {}
    assert isinstance(caught.value, Unauthenticated)
    return caught.value.reason


def test_an_issued_token_verifies_into_its_claims(ring: KeyRing) -> None:
    token = issue_access_token(
        ring,
        user_id="user-1",
        profile_id="profile-2",
        session_id="session-3",
        roles=["admin"],
        scopes=["catalog:read", "playback:write"],
    )

    claims = verify_access_token(ring, token)

    assert claims == AccessClaims(
        user_id="user-1",
        profile_id="profile-2",
        session_id="session-3",
        roles=("admin",),
        scopes=("catalog:read", "playback:write"),
        issued_at=int(T0),
        expires_at=int(T0) + 900,
        token_id=claims.token_id,
        key_id=ring.current_kid,
    )
    assert len(claims.token_id) >= 20
    assert jwt.get_unverified_header(token) == {
        "alg": "EdDSA",
        "kid": ring.current_kid,
        "typ": "at+jwt",
    }


def test_every_token_has_its_own_jti(ring: KeyRing) -> None:
    first = verify_access_token(ring, issue_access_token(ring, user_id="u", session_id="s"))
    second = verify_access_token(ring, issue_access_token(ring, user_id="u", session_id="s"))

    assert first.token_id != second.token_id
    assert first.profile_id is None


def test_a_token_is_refused_once_expired(ring: KeyRing, clock: Clock) -> None:
    token = issue_access_token(ring, user_id="u", session_id="s")

    clock.now = T0 + 900 + 29  # within the 30 s leeway
    assert verify_access_token(ring, token).user_id == "u"
    clock.now = T0 + 900 + 30
    assert reason_for(ring, token) == "expired"


def test_a_token_issued_in_the_future_is_refused(ring: KeyRing) -> None:
    token = sign_with(current_private_key(ring), ring.current_kid, claims_for(T0 + 3600))

    assert reason_for(ring, token) == "issued in the future"


def test_a_forged_signature_is_refused(ring: KeyRing) -> None:
    forged = sign_with(Ed25519PrivateKey.generate(), ring.current_kid, claims_for(T0))

    assert reason_for(ring, forged) == "bad signature"


def test_a_tampered_payload_is_refused(ring: KeyRing) -> None:
    header, _, signature = issue_access_token(ring, user_id="u", session_id="s").split(".")
    tampered = ".".join([header, b64(claims_for(T0, roles=["admin"])), signature])

    assert reason_for(ring, tampered) == "bad signature"


def test_an_alg_none_token_is_refused(ring: KeyRing) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": ring.current_kid}
    unsigned = f"{b64(header)}.{b64(claims_for(T0))}."

    assert reason_for(ring, unsigned) == "algorithm not allowed: 'none'"


def test_an_hs256_token_keyed_with_public_material_is_refused(ring: KeyRing) -> None:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": ring.current_kid}
    token = jwt.encode(claims_for(T0), "x" * 32, algorithm="HS256", headers=header)

    assert reason_for(ring, token) == "algorithm not allowed: 'HS256'"


def test_a_token_naming_another_known_kid_is_refused(ring: KeyRing) -> None:
    old_key = current_private_key(ring)
    old_kid = ring.current_kid
    new_kid = ring.rotate(grace_seconds=3600)
    wrong_kid = sign_with(old_key, new_kid, claims_for(T0))

    assert old_kid != new_kid
    assert reason_for(ring, wrong_kid) == "bad signature"


def test_an_unknown_kid_is_refused(ring: KeyRing) -> None:
    token = sign_with(current_private_key(ring), "no-such-key", claims_for(T0))

    assert reason_for(ring, token) == "unknown kid: 'no-such-key'"


def test_a_token_without_kid_is_refused(ring: KeyRing) -> None:
    token = jwt.encode(
        claims_for(T0), current_private_key(ring), algorithm="EdDSA", headers={"typ": "at+jwt"}
    )

    assert reason_for(ring, token) == "missing kid"


def test_a_jwt_of_another_type_is_refused(ring: KeyRing) -> None:
    token = jwt.encode(
        claims_for(T0),
        current_private_key(ring),
        algorithm="EdDSA",
        headers={"kid": ring.current_kid},
    )

    assert reason_for(ring, token) == "wrong token type: 'JWT'"


def test_a_wrong_audience_is_refused(ring: KeyRing) -> None:
    token = sign_with(current_private_key(ring), ring.current_kid, claims_for(T0, aud="other"))

    assert reason_for(ring, token) == "wrong audience"


def test_a_wrong_issuer_is_refused(ring: KeyRing) -> None:
    token = sign_with(current_private_key(ring), ring.current_kid, claims_for(T0, iss="evil"))

    assert reason_for(ring, token) == "wrong issuer"


def test_a_missing_claim_is_refused(ring: KeyRing) -> None:
    claims = claims_for(T0)
    del claims["sid"]
    token = sign_with(current_private_key(ring), ring.current_kid, claims)

    assert reason_for(ring, token) == "missing claim: sid"


def test_claims_of_the_wrong_type_are_refused(ring: KeyRing) -> None:
    token = sign_with(current_private_key(ring), ring.current_kid, claims_for(T0, roles="admin"))

    assert reason_for(ring, token) == "malformed: claim types"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "a.b.c",
        "a.b",
        "....",
        "eyJhbGciOiJFZERTQSJ9",
        "\x00\xff.\x00.\x00",
        "x" * 9000,
        # a header whose kid is a number
        "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCIsImtpZCI6MX0.e30.e30",
    ],
)
def test_garbage_is_refused_as_malformed(ring: KeyRing, garbage: str) -> None:
    assert reason_for(ring, garbage) == "malformed"


def test_a_token_from_the_previous_key_verifies_during_grace_and_fails_after(
    ring: KeyRing, clock: Clock
) -> None:
    old_kid = ring.current_kid
    token = issue_access_token(ring, user_id="u", session_id="s", ttl_seconds=7200)

    new_kid = ring.rotate(grace_seconds=600)

    assert ring.current_kid == new_kid
    assert ring.kids == (old_kid, new_kid)
    assert verify_access_token(ring, token).key_id == old_kid
    fresh = issue_access_token(ring, user_id="u", session_id="s")
    assert verify_access_token(ring, fresh).key_id == new_kid
    clock.now = T0 + 600
    assert reason_for(ring, token) == f"unknown kid: {old_kid!r}"
    assert verify_access_token(ring, fresh).key_id == new_kid


def test_dropping_the_previous_key_ends_its_tokens_at_once(ring: KeyRing) -> None:
    old_kid = ring.current_kid
    token = issue_access_token(ring, user_id="u", session_id="s")
    ring.rotate(grace_seconds=3600)

    ring.drop(old_kid)

    assert reason_for(ring, token) == f"unknown kid: {old_kid!r}"


def test_the_current_key_cannot_be_dropped(ring: KeyRing) -> None:
    with pytest.raises(KeyRingError):
        ring.drop(ring.current_kid)


def test_the_ring_file_is_created_private_and_reopens_with_the_same_keys(
    tmp_path: Path, ring: KeyRing, clock: Clock
) -> None:
    path = tmp_path / "keys.json"
    token = issue_access_token(ring, user_id="u", session_id="s")

    reopened = KeyRing.open(path, clock=clock)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert reopened.current_kid == ring.current_kid
    assert verify_access_token(reopened, token).user_id == "u"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def test_a_rotation_by_another_process_is_picked_up(
    tmp_path: Path, ring: KeyRing, clock: Clock
) -> None:
    other = KeyRing.open(tmp_path / "keys.json", clock=clock)
    other_kid = other.rotate(grace_seconds=3600)
    token = issue_access_token(other, user_id="u", session_id="s")

    assert verify_access_token(ring, token).key_id == other_kid
    assert ring.current_kid == other_kid
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600


def test_a_loose_ring_file_is_tightened_on_open(tmp_path: Path, ring: KeyRing) -> None:
    path = tmp_path / "keys.json"
    path.chmod(0o644)

    KeyRing.open(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_corrupt_ring_file_is_an_error_not_a_new_ring(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json", encoding="utf-8")

    with pytest.raises(KeyRingError):
        KeyRing.open(path)
    assert path.read_text(encoding="utf-8") == "{not json"


def test_refresh_tokens_are_random_and_stored_as_sha256() -> None:
    token, digest = new_refresh_token()
    other, _ = new_refresh_token()

    assert token != other
    assert len(token) == 43
    assert digest == hash_token(token)
    assert len(digest) == 64
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_api_keys_carry_a_prefix_and_256_bits() -> None:
    key, digest = new_api_key()
    custom, _ = new_api_key(prefix="ha")

    assert key.startswith("rvg_")
    assert len(key) == len("rvg_") + 43
    assert digest == hash_token(key)
    assert custom.startswith("ha_")
    with pytest.raises(ValueError):
        new_api_key(prefix="bad_prefix")


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc") is True
    assert constant_time_equals("abc", "abd") is False
    assert constant_time_equals("abc", "abcd") is False
    assert constant_time_equals("é", "é") is True
