"""Short-lived signed stream and image URLs: HMAC-SHA256 over resource, principal and expiry.

A player (a ``<video>`` element, ffmpeg, a TV) cannot always send an ``Authorization`` header,
so a playback mutation hands out ``/stream/{fileId}?exp=…&uid=…&sig=…`` instead. The signature
covers the file id, the user id and the expiry, so a URL works for that one file only, for that
one user, until it expires; changing any of them breaks it.

The default lifetime is six hours: long enough for a film plus pauses (a player re-requests ranges
as it seeks, so the URL must outlive the whole viewing), short enough that a leaked URL is worth
little. A signature binds the *user*, not the credential that asked for it: revoking the API key
or signing out does not kill URLs already issued (they lapse within the lifetime), while
disabling the user does, because the stream route loads the user on every request. Deleting the
key file (``<data dir>/keys/stream-signing.key``) invalidates every URL at once.

Image URLs (``/images/{id}?exp&uid&pid&sig``) are signed the same way, under their own domain,
over the image, the user *and the profile*, so that an ``<img>`` tag (which sends no header)
fetches a poster with the profile's own limits.

The secret is 256 random bits in a file created 0600 on first use; creation is atomic
(``mkstemp`` + ``link``), so concurrent first starts agree on one key. Every rejection raises
``Forbidden`` with one safe message; the cause is in ``reason``, for logs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlencode

from infra.errors import Forbidden

__all__ = [
    "DEFAULT_STREAM_URL_LIFETIME_SECONDS",
    "IMAGE_URL_BUCKET_SECONDS",
    "IMAGE_URL_LIFETIME_SECONDS",
    "StreamSigner",
    "StreamSigningKeyError",
    "image_expiry",
]

DEFAULT_STREAM_URL_LIFETIME_SECONDS = 6 * 60 * 60
KEY_BYTES = 32
SAFE_MESSAGE = "Invalid or expired stream signature"
_DOMAIN = b"revenge-stream-v1"
HLS_DOMAIN = b"revenge-hls-v1"
IMAGE_DOMAIN = b"revenge-image-v1"
# Image URLs: at most six hours, at least five; every URL signed in one hour has the same
# expiry, so a page shown again within the hour names the same URLs and the browser's cache
# answers them.
IMAGE_URL_LIFETIME_SECONDS = 6 * 60 * 60
IMAGE_URL_BUCKET_SECONDS = 60 * 60
_EXPIRY = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")


class StreamSigningKeyError(Exception):
    """The key file exists but cannot be used; the message names the file."""


def _refuse(reason: str) -> Forbidden:
    return Forbidden(SAFE_MESSAGE, reason=reason)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def image_expiry(
    now: float,
    lifetime: int = IMAGE_URL_LIFETIME_SECONDS,
    bucket: int = IMAGE_URL_BUCKET_SECONDS,
) -> int:
    """The expiry of an image URL signed at ``now``: the start of ``now``'s bucket plus the
    lifetime, the same for the whole bucket."""
    return int(now) // bucket * bucket + lifetime


def _canonical_id(value: object, what: str) -> str:
    """``value`` if it is a UUID spelled canonically; else a refusal naming ``what``."""
    if not isinstance(value, str) or len(value) != 36:
        raise _refuse(f"malformed {what}")
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        raise _refuse(f"malformed {what}") from None
    if canonical != value:
        raise _refuse(f"malformed {what}")
    return canonical


class StreamSigner:
    """Signs and verifies stream URLs with one server secret; open with ``StreamSigner.open``."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < KEY_BYTES:
            raise ValueError("a stream signing secret has at least 256 bits")
        self._secret = secret

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> StreamSigner:
        """Load the secret, creating the file (mode 0600, atomically) when it is missing."""
        path = Path(path)
        if not path.exists():
            with contextlib.suppress(FileExistsError):  # another process won the race
                _create(path, secrets.token_bytes(KEY_BYTES))
        return cls(_read(path))

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike[str]) -> StreamSigner:
        """The deployment's signer: ``<data dir>/keys/stream-signing.key``."""
        return cls.open(Path(data_dir) / "keys" / "stream-signing.key")

    def _mac(
        self, file_id: uuid.UUID, user_id: str, expires_at: int, domain: bytes = _DOMAIN
    ) -> bytes:
        message = b"\x00".join(
            [domain, str(file_id).encode(), user_id.encode(), str(expires_at).encode()]
        )
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def stream_path(self, file_id: uuid.UUID, user_id: str, expires_at: int) -> str:
        """``/stream/{file_id}?exp=…&uid=…&sig=…``: the route's path with a signature."""
        return f"/stream/{file_id}?{self.sign_stream(file_id, user_id, expires_at)}"

    def remux_path(
        self,
        file_id: uuid.UUID,
        user_id: str,
        expires_at: int,
        audio_stream_index: int | None = None,
        start_ms: int | None = None,
    ) -> str:
        """``/remux/{file_id}?exp=…&uid=…&sig=…[&audio=N][&start=M]``. The signature is the
        stream one (file, user, expiry): the audio track and start position are the holder's
        choice within a file they may play, so they stay outside it."""
        query = self.sign_stream(file_id, user_id, expires_at)
        extra = {"audio": audio_stream_index, "start": start_ms}
        extra_query = urlencode({name: value for name, value in extra.items() if value is not None})
        return f"/remux/{file_id}?{query}" + (f"&{extra_query}" if extra_query else "")

    def sign_stream(
        self, file_id: uuid.UUID, user_id: str, expires_at: int, domain: bytes = _DOMAIN
    ) -> str:
        """The query string ``exp=…&uid=…&sig=…`` (no leading ``?``); ``expires_at`` is Unix
        seconds."""
        canonical_user = str(uuid.UUID(user_id))
        signature = _b64(self._mac(file_id, canonical_user, int(expires_at), domain))
        return urlencode({"exp": int(expires_at), "uid": canonical_user, "sig": signature})

    def sign_hls(self, session_id: uuid.UUID, user_id: str, expires_at: int) -> str:
        """The query string for a transcode session's HLS playlists and segments: the same
        scheme over the *session* id, under another domain, so it never opens a file."""
        return self.sign_stream(session_id, user_id, expires_at, HLS_DOMAIN)

    def hls_path(self, session_id: uuid.UUID, user_id: str, expires_at: int) -> str:
        """``/hls/{session_id}/master.m3u8?exp=…&uid=…&sig=…``."""
        return f"/hls/{session_id}/master.m3u8?{self.sign_hls(session_id, user_id, expires_at)}"

    def sign_image(
        self, image_id: uuid.UUID, user_id: str, profile_id: str | None, expires_at: int
    ) -> str:
        """The query string ``exp=…&uid=…[&pid=…]&sig=…`` of a catalog image for one user's
        profile (the route applies that profile's limits): a kids profile's URL never shows
        what the profile may not see, and a parent's URL is not a kid's."""
        return self.image_signer(user_id, profile_id, expires_at)(str(image_id))

    def image_signer(
        self, user_id: str, profile_id: str | None, expires_at: int
    ) -> Callable[[str], str]:
        """``sign_image`` for the images of one principal and expiry (a page of posters), by
        canonical image id: the shared part of the message is hashed once."""
        user = str(uuid.UUID(user_id))
        profile = str(uuid.UUID(profile_id)) if profile_id else ""
        shared = self._image_mac_prefix(user, profile, int(expires_at))
        head = f"exp={int(expires_at)}&uid={user}" + (f"&pid={profile}" if profile else "")

        def sign(image_id: str) -> str:
            mac = shared.copy()
            mac.update(image_id.encode())
            return f"{head}&sig={_b64(mac.digest())}"

        return sign

    def verify_image(
        self, image_id: uuid.UUID, params: Mapping[str, str], now: float
    ) -> tuple[str, str | None]:
        """(user id, profile id or None) an image URL was signed for; ``Forbidden`` when
        expired, tampered, signed for another image, or malformed."""
        expiry, signature = params.get("exp"), params.get("sig")
        if not isinstance(expiry, str) or not _EXPIRY.fullmatch(expiry):
            raise _refuse("malformed expiry")
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
            raise _refuse("malformed signature")
        user = _canonical_id(params.get("uid"), "user")
        profile = params.get("pid")
        profile = "" if profile is None else _canonical_id(profile, "profile")
        expected = _b64(self._image_mac(image_id, user, profile, int(expiry)))
        if not hmac.compare_digest(signature.encode("ascii"), expected.encode("ascii")):
            raise _refuse("bad signature")
        if now >= int(expiry):
            raise _refuse("expired")
        return user, profile or None

    def _image_mac_prefix(self, user: str, profile: str, expires_at: int) -> hmac.HMAC:
        # The image id comes last, so a page's signatures share the hashed prefix.
        parts = [IMAGE_DOMAIN, user.encode(), profile.encode(), str(expires_at).encode(), b""]
        return hmac.new(self._secret, b"\x00".join(parts), hashlib.sha256)

    def _image_mac(self, image_id: uuid.UUID, user: str, profile: str, expires_at: int) -> bytes:
        mac = self._image_mac_prefix(user, profile, expires_at)
        mac.update(str(image_id).encode())
        return mac.digest()

    def verify_hls(self, session_id: uuid.UUID, params: Mapping[str, str], now: float) -> str:
        """``verify_stream`` for an HLS signature."""
        return self.verify_stream(session_id, params, now, HLS_DOMAIN)

    def verify_stream(
        self,
        file_id: uuid.UUID,
        params: Mapping[str, str],
        now: float,
        domain: bytes = _DOMAIN,
    ) -> str:
        """The user id the URL was signed for; ``Forbidden`` when expired, tampered, signed for
        another file, or malformed."""
        expiry, user, signature = params.get("exp"), params.get("uid"), params.get("sig")
        if not isinstance(expiry, str) or not _EXPIRY.fullmatch(expiry):
            raise _refuse("malformed expiry")
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
            raise _refuse("malformed signature")
        if not isinstance(user, str) or len(user) != 36:
            raise _refuse("malformed user")
        try:
            canonical_user = str(uuid.UUID(user))
        except ValueError:
            raise _refuse("malformed user") from None
        if canonical_user != user:
            raise _refuse("malformed user")
        # Compare the canonical text, not decoded bytes: base64's unused trailing bits would
        # otherwise let several spellings of one signature pass.
        expected = _b64(self._mac(file_id, canonical_user, int(expiry), domain))
        if not hmac.compare_digest(signature.encode("ascii"), expected.encode("ascii")):
            raise _refuse("bad signature")
        if now >= int(expiry):
            raise _refuse("expired")
        return canonical_user


def _create(path: Path, secret: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600; link() fails if the file appeared meanwhile, so
    # the first writer wins and nobody ever reads a half-written key.
    handle, temporary = tempfile.mkstemp(prefix=".stream-signing-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="ascii") as file:
            file.write(_b64(secret) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _read(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
        secret = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (OSError, ValueError) as error:
        raise StreamSigningKeyError(f"{path}: unreadable stream signing key ({error})") from None
    if len(secret) < KEY_BYTES:
        raise StreamSigningKeyError(f"{path}: the stream signing key is too short")
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return secret
