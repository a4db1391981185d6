"""Access tokens (short-lived JWTs), opaque refresh tokens and API keys.

Access tokens are signed with EdDSA (Ed25519) rather than HS256: a verifier needs only the
public half, so a subgraph running as its own service, a second gateway replica or an
external router can check tokens without being able to mint them, and the public keys can be
published as a JWKS later. Signing and verifying cost tens of microseconds, far below the
authorization budget. Only ``EdDSA`` is accepted, checked before any key is touched, so
``alg: none`` and algorithm-confusion tokens never reach a verifier.

The keys are in a key ring (``infra.key_ring``); the header's ``kid`` selects the key, and a
rotation keeps the previous keys verifying until the tokens they signed expire.

Every rejection raises ``InvalidAccessToken`` (an ``Unauthenticated``) with one safe message;
the precise cause is in ``reason`` for logs, never in the message or extensions a caller sees.

Refresh tokens and API keys are opaque random strings with at least 256 bits of entropy; only
their SHA-256 is stored. A fast hash is enough at that entropy (no guessing is possible), and
it lets the database look them up by hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from infra.errors import Unauthenticated
from infra.key_ring import KeyInfo, KeyRing, KeyRingError

__all__ = [
    "ACCESS_TOKEN_TTL_SECONDS",
    "AUDIENCE",
    "ISSUER",
    "AccessClaims",
    "InvalidAccessToken",
    "KeyInfo",
    "KeyRing",
    "KeyRingError",
    "constant_time_equals",
    "hash_token",
    "issue_access_token",
    "new_api_key",
    "new_refresh_token",
    "verify_access_token",
]

ISSUER = "revenge"
AUDIENCE = "revenge-api"
ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"  # RFC 9068: keeps other JWTs signed by the same key from passing as access
ACCESS_TOKEN_TTL_SECONDS = 15 * 60
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192
SAFE_MESSAGE = "Invalid or expired access token"


class InvalidAccessToken(Unauthenticated):
    """A refused access token; ``reason`` says why, for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(SAFE_MESSAGE, reason=reason)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    profile_id: str | None
    session_id: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int
    token_id: str
    key_id: str


def issue_access_token(
    ring: KeyRing,
    *,
    user_id: str,
    session_id: str,
    profile_id: str | None = None,
    roles: Sequence[str] = (),
    scopes: Sequence[str] = (),
    ttl_seconds: int = ACCESS_TOKEN_TTL_SECONDS,
) -> str:
    """A signed access token for the ring's current key."""
    kid, key = ring.signing_key()
    now = int(ring.clock())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "pid": profile_id,
        "sid": session_id,
        "roles": list(roles),
        "scopes": list(scopes),
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": TOKEN_TYPE})


_REQUIRED = ["iss", "aud", "sub", "sid", "iat", "exp", "jti"]


def verify_access_token(ring: KeyRing, token: str) -> AccessClaims:
    """The token's claims, or ``InvalidAccessToken`` with a ``reason`` for logs."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidAccessToken("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidAccessToken("malformed") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidAccessToken(f"algorithm not allowed: {header.get('alg')!r}")
    if header.get("typ") != TOKEN_TYPE:
        raise InvalidAccessToken(f"wrong token type: {header.get('typ')!r}")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidAccessToken("missing kid")
    public_key = ring.verification_key(kid)
    if public_key is None:
        raise InvalidAccessToken(f"unknown kid: {kid!r}")
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Time is checked below against the ring's clock, so tests and replicas agree.
            options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise InvalidAccessToken("bad signature") from None
    except jwt.InvalidAudienceError:
        raise InvalidAccessToken("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidAccessToken("wrong issuer") from None
    except jwt.MissingRequiredClaimError as error:
        raise InvalidAccessToken(f"missing claim: {error.claim}") from None
    except jwt.InvalidTokenError as error:
        raise InvalidAccessToken(f"malformed: {type(error).__name__}") from None
    return _claims_from(claims, kid, ring.clock())


def _claims_from(claims: dict[str, Any], kid: str, now: float) -> AccessClaims:
    issued_at, expires_at = claims["iat"], claims["exp"]
    if not isinstance(issued_at, int) or not isinstance(expires_at, int):
        raise InvalidAccessToken("malformed: iat/exp not integers")
    if now >= expires_at + LEEWAY_SECONDS:
        raise InvalidAccessToken("expired")
    if issued_at > now + LEEWAY_SECONDS:
        raise InvalidAccessToken("issued in the future")
    user_id, session_id, token_id = claims["sub"], claims["sid"], claims["jti"]
    profile_id = claims.get("pid")
    roles, scopes = claims.get("roles", []), claims.get("scopes", [])
    if not (
        isinstance(user_id, str)
        and isinstance(session_id, str)
        and isinstance(token_id, str)
        and (profile_id is None or isinstance(profile_id, str))
        and isinstance(roles, list)
        and all(isinstance(role, str) for role in roles)
        and isinstance(scopes, list)
        and all(isinstance(scope, str) for scope in scopes)
    ):
        raise InvalidAccessToken("malformed: claim types")
    return AccessClaims(
        user_id=user_id,
        profile_id=profile_id,
        session_id=session_id,
        roles=tuple(roles),
        scopes=tuple(scopes),
        issued_at=issued_at,
        expires_at=expires_at,
        token_id=token_id,
        key_id=kid,
    )


def hash_token(token: str) -> str:
    """SHA-256 hex of an opaque token: what the database stores and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    """Compare secrets (or their hashes) without leaking where they first differ."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def new_refresh_token() -> tuple[str, str]:
    """A fresh refresh token (256 random bits, URL-safe) and its ``hash_token``."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def new_api_key(prefix: str = "rvg") -> tuple[str, str]:
    """``<prefix>_<43 URL-safe chars>`` (256 random bits) and its ``hash_token``.

    The prefix makes keys recognisable in logs and to secret scanners.
    """
    if not prefix.isalnum():
        raise ValueError("an API key prefix is letters and digits")
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return key, hash_token(key)
