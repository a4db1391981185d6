"""TOTP second factor (RFC 6238, via pyotp) and one-time recovery codes.

``verify_totp`` accepts the previous, current and next 30-second step, so a phone clock a
little off still works, and returns the step it matched. The caller stores that step and
passes it back next time: a code for that step or any earlier one is refused, so a code seen
over someone's shoulder cannot be replayed.

Recovery codes carry 80 random bits (16 Crockford base32 characters, shown as four groups of
four). At that entropy a SHA-256 is as safe to store as a slow hash and lets a sign-in check
all ten in microseconds. Matching forgives case, dashes, spaces and the letters people confuse
with digits (o→0, i/l→1), and compares every stored hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence

import pyotp

__all__ = [
    "ISSUER",
    "STEP_SECONDS",
    "match_recovery_code",
    "new_recovery_codes",
    "new_totp_secret",
    "provisioning_uri",
    "verify_totp",
]

ISSUER = "Revenge"
STEP_SECONDS = 30
DIGITS = 6
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32
RECOVERY_LENGTH = 16
_CONFUSABLES = str.maketrans("oil", "011")


def new_totp_secret() -> str:
    """A random base32 secret (160 bits) for a new authenticator enrolment."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account_name: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans (issuer "Revenge")."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=ISSUER
    )


def verify_totp(
    secret: str,
    code: str,
    last_used_step: int | None,
    *,
    clock: Callable[[], float] = time.time,
) -> int | None:
    """The matched time step (store it as the new ``last_used_step``), or None.

    Accepts one step either side of now; refuses any step at or before ``last_used_step``.
    """
    code = code.replace(" ", "").strip()
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    generator = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now_step = int(clock()) // STEP_SECONDS
    matched: int | None = None
    for step in (now_step - 1, now_step, now_step + 1):
        expected = generator.generate_otp(step)
        fresh = last_used_step is None or step > last_used_step
        if hmac.compare_digest(expected, code) and fresh and matched is None:
            matched = step
    return matched


def _hash_recovery_code(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("ascii")).hexdigest()


def _normalise(code: str) -> str:
    cleaned = code.strip().lower().replace("-", "").replace(" ", "")
    return cleaned.translate(_CONFUSABLES)


def new_recovery_codes(n: int = 10) -> tuple[list[str], list[str]]:
    """``n`` codes to show once (``xxxx-xxxx-xxxx-xxxx``) and the hashes to store."""
    codes: list[str] = []
    hashes: list[str] = []
    for _ in range(n):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4)))
        hashes.append(_hash_recovery_code(raw))
    return codes, hashes


def match_recovery_code(code: str, hashes: Sequence[str]) -> int | None:
    """Index of the stored hash ``code`` matches, or None; the caller then deletes that one."""
    normalised = _normalise(code)
    if len(normalised) != RECOVERY_LENGTH or any(c not in RECOVERY_ALPHABET for c in normalised):
        return None
    candidate = _hash_recovery_code(normalised).encode("ascii")
    matched: int | None = None
    for index, stored in enumerate(hashes):
        if hmac.compare_digest(candidate, stored.encode("ascii")) and matched is None:
            matched = index
    return matched
