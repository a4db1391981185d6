"""Access tokens (short-lived JWTs), opaque refresh tokens and API keys.

Access tokens are signed with EdDSA (Ed25519) rather than HS256: a verifier needs only the
public half, so a subgraph running as its own service, a second gateway replica or an
external router can check tokens without being able to mint them, and the public keys can be
published as a JWKS later. Signing and verifying cost tens of microseconds, far below the
authorization budget. Only ``EdDSA`` is accepted, checked before any key is touched, so
``alg: none`` and algorithm-confusion tokens never reach a verifier.

Keys live in a key ring, a JSON file in the data dir created on first use with 0600
permissions. The header's ``kid`` selects the key. ``rotate()`` makes a new current key and
keeps the previous ones for verification until their grace period ends, so tokens issued just
before a rotation stay valid until they expire.

Every rejection raises ``InvalidAccessToken`` (an ``Unauthenticated``) with one safe message;
the precise cause is in ``reason`` for logs, never in the message or extensions a caller sees.

Refresh tokens and API keys are opaque random strings with at least 256 bits of entropy; only
their SHA-256 is stored. A fast hash is enough at that entropy (no guessing is possible), and
it lets the database look them up by hash.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from infra.errors import Unauthenticated

__all__ = [
    "ACCESS_TOKEN_TTL_SECONDS",
    "AUDIENCE",
    "ISSUER",
    "AccessClaims",
    "InvalidAccessToken",
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
DEFAULT_GRACE_SECONDS = 60 * 60
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192
SAFE_MESSAGE = "Invalid or expired access token"

Clock = Callable[[], float]


class InvalidAccessToken(Unauthenticated):
    """A refused access token; ``reason`` says why, for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(SAFE_MESSAGE, reason=reason)


class KeyRingError(Exception):
    """The key ring file exists but cannot be used; the message names the file."""


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


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey
    created_at: float
    verify_until: float | None  # None for the current key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _new_key(now: float) -> _Key:
    private = Ed25519PrivateKey.generate()
    return _Key(secrets.token_hex(8), private, private.public_key(), now, None)


class KeyRing:
    """Signing keys persisted in one JSON file; open with ``KeyRing.open(path)``."""

    def __init__(self, path: Path, keys: list[_Key], current: str, clock: Clock) -> None:
        self._path = path
        self._keys = {key.kid: key for key in keys}
        self._current = current
        self._clock = clock
        self._mtime = self._stat()

    @classmethod
    def open(cls, path: str | Path, *, clock: Clock = time.time) -> KeyRing:
        """Load the ring, creating it (with one key, mode 0600) when the file is missing."""
        path = Path(path)
        if not path.exists():
            key = _new_key(clock())
            with contextlib.suppress(FileExistsError):  # another process won the race
                _write(path, [key], key.kid, exclusive=True)
        keys, current = _read(path)
        ring = cls(path, keys, current, clock)
        ring._drop_lapsed()
        return ring

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def current_kid(self) -> str:
        return self._current

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def rotate(self, *, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> str:
        """Make a new current key; earlier keys keep verifying for ``grace_seconds``."""
        self.reload()
        now = self._clock()
        retired = [
            key
            if key.verify_until is not None
            else _Key(key.kid, key.private_key, key.public_key, key.created_at, now + grace_seconds)
            for key in self._keys.values()
        ]
        fresh = _new_key(now)
        self._keys = {key.kid: key for key in [*retired, fresh]}
        self._current = fresh.kid
        self._drop_lapsed()
        self._save()
        return fresh.kid

    def drop(self, kid: str) -> None:
        """Forget a retired key now (e.g. after a leak); the current key cannot be dropped."""
        if kid == self._current:
            raise KeyRingError(f"{self._path}: cannot drop the current key {kid}")
        if self._keys.pop(kid, None) is not None:
            self._save()

    def reload(self) -> None:
        """Re-read the file when another process (or the CLI) changed it."""
        mtime = self._stat()
        if mtime == self._mtime:
            return
        keys, current = _read(self._path)
        self._keys = {key.kid: key for key in keys}
        self._current = current
        self._mtime = mtime
        self._drop_lapsed()

    def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        self.reload()
        return self._current, self._keys[self._current].private_key

    def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        key = self._keys.get(kid)
        if key is None:
            self.reload()
            key = self._keys.get(kid)
        if key is None or (key.verify_until is not None and self._clock() >= key.verify_until):
            return None
        return key.public_key

    def _drop_lapsed(self) -> None:
        now = self._clock()
        self._keys = {
            kid: key
            for kid, key in self._keys.items()
            if key.verify_until is None or key.verify_until > now
        }

    def _save(self) -> None:
        _write(self._path, list(self._keys.values()), self._current, exclusive=False)
        self._mtime = self._stat()

    def _stat(self) -> int:
        try:
            return self._path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0


def _write(path: Path, keys: Sequence[_Key], current: str, *, exclusive: bool) -> None:
    document = {
        "format": 1,
        "current": current,
        "keys": [
            {
                "kid": key.kid,
                "alg": ALGORITHM,
                "private_key": _b64(key.private_key.private_bytes_raw()),
                "created_at": key.created_at,
                "verify_until": key.verify_until,
            }
            for key in keys
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600; the rename makes the write atomic.
    handle, temporary = tempfile.mkstemp(prefix=".keyring-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        if exclusive:
            os.link(temporary, path)  # fails if the file appeared meanwhile
        else:
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _read(path: Path) -> tuple[list[_Key], str]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        keys = [_key_from(entry) for entry in document["keys"]]
        current = document["current"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise KeyRingError(f"{path}: unreadable key ring ({error})") from None
    if not isinstance(current, str) or current not in {key.kid for key in keys}:
        raise KeyRingError(f"{path}: the current key is missing from the ring")
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return keys, current


def _key_from(entry: dict[str, Any]) -> _Key:
    kid, private, verify_until = entry["kid"], entry["private_key"], entry["verify_until"]
    if not isinstance(kid, str) or not isinstance(private, str):
        raise ValueError("kid and private_key must be strings")
    key = Ed25519PrivateKey.from_private_bytes(_unb64(private))
    until = None if verify_until is None else float(verify_until)
    return _Key(kid, key, key.public_key(), float(entry["created_at"]), until)


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
