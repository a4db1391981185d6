"""The signing keys of access tokens: a key ring in one JSON file (``infra.tokens`` signs and
verifies with it).

The file lives in the data dir, created on first use with 0600 permissions; the token header's
``kid`` selects the key. ``rotate()`` makes a new current key and keeps the previous ones for
verification until their grace period ends, so tokens issued just before a rotation stay valid
until they expire. Every process using the file (servers, workers, ``revenge keys``) sees
another's change on its next signature or verification (a ``stat`` of the file); changes are
made under a lock file, so two processes never rotate at once.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["DEFAULT_GRACE_SECONDS", "KeyInfo", "KeyRing", "KeyRingError"]

ALGORITHM = "EdDSA"
DEFAULT_GRACE_SECONDS = 60 * 60

Clock = Callable[[], float]


class KeyRingError(Exception):
    """The key ring file exists but cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What ``revenge keys list`` shows of a key: never its private half."""

    kid: str
    created_at: float
    verify_until: float | None  # None for the current key
    is_current: bool


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

    def keys(self) -> list[KeyInfo]:
        """The keys as the file has them now, oldest first."""
        self.reload()
        return sorted(
            (
                KeyInfo(key.kid, key.created_at, key.verify_until, key.kid == self._current)
                for key in self._keys.values()
            ),
            key=lambda info: (info.created_at, info.kid),
        )

    def rotate(self, *, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> str:
        """Make a new current key; earlier keys keep verifying for ``grace_seconds``."""
        with self._locked():
            return self._rotate(grace_seconds)

    def rotate_if_older(self, age_seconds: float, *, grace_seconds: float) -> str | None:
        """``rotate`` when the current key is at least ``age_seconds`` old (checked under the
        lock, so of several processes due at once only the first rotates); the new kid, or
        None when the key is young enough."""
        with self._locked():
            self.reload()
            if self._clock() - self._keys[self._current].created_at < age_seconds:
                return None
            return self._rotate(grace_seconds)

    def prune(self) -> list[str]:
        """Remove the keys whose grace period ended from the file; their kids."""
        with self._locked():
            self._keys, self._current = self._read_all()
            live = self._live()
            lapsed = [kid for kid in self._keys if kid not in live]
            self._keys = live
            if lapsed:
                self._save()
            else:
                self._mtime = self._stat()
            return lapsed

    def _rotate(self, grace_seconds: float) -> str:
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
        with self._locked():
            self.reload()
            if kid == self._current:
                raise KeyRingError(f"{self._path}: cannot drop the current key {kid}")
            if self._keys.pop(kid, None) is not None:
                self._save()

    def reload(self) -> None:
        """Re-read the file when another process (or the CLI) changed it."""
        mtime = self._stat()
        if mtime == self._mtime:
            return
        self._keys, self._current = self._read_all()
        self._mtime = mtime
        self._drop_lapsed()

    def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        self.reload()
        return self._current, self._keys[self._current].private_key

    def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        self.reload()  # a key retired or dropped by another process ends here too
        key = self._keys.get(kid)
        if key is None or (key.verify_until is not None and self._clock() >= key.verify_until):
            return None
        return key.public_key

    def _read_all(self) -> tuple[dict[str, _Key], str]:
        keys, current = _read(self._path)
        return {key.kid: key for key in keys}, current

    def _live(self) -> dict[str, _Key]:
        now = self._clock()
        return {
            kid: key
            for kid, key in self._keys.items()
            if key.verify_until is None or key.verify_until > now
        }

    def _drop_lapsed(self) -> None:
        self._keys = self._live()

    def _save(self) -> None:
        _write(self._path, list(self._keys.values()), self._current, exclusive=False)
        self._mtime = self._stat()

    def _stat(self) -> tuple[int, int, int]:
        # The inode too: each write replaces the file, so two writes within the file system's
        # time resolution still differ.
        try:
            info = self._path.stat()
        except FileNotFoundError:
            return (0, 0, 0)
        return (info.st_mtime_ns, info.st_ino, info.st_size)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Held while the file changes: one writer at a time across processes."""
        lock = self._path.parent / f".{self._path.name}.lock"
        with open(lock, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
