"""Rotating the access-token signing keys on a schedule, and where their ring lives.

Each server checks every so often (``check_interval``) whether the current key is older than
``auth.key_rotation_days``; the first process to find it due rotates (under the ring's lock,
so replicas on one data dir rotate once). The retired key keeps verifying for the lifetime of
the tokens it signed (``TOKEN_LIFETIME_SECONDS``) and is then pruned from the file. ``revenge
keys rotate`` does the same at once. Running processes pick the new key up on their next
signature or verification: the ring notices the file changed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from infra.key_ring import KeyRing, KeyRingError
from infra.tokens import ACCESS_TOKEN_TTL_SECONDS, LEEWAY_SECONDS

__all__ = [
    "TOKEN_LIFETIME_SECONDS",
    "check_interval",
    "key_ring_path",
    "rotate_keys_forever",
    "rotate_when_due",
]

log = structlog.get_logger("revenge.keys")

# How long a retired key keeps verifying: the longest an access token it signed stays valid.
TOKEN_LIFETIME_SECONDS = ACCESS_TOKEN_TTL_SECONDS + LEEWAY_SECONDS
DAY_SECONDS = 86_400.0


def key_ring_path(data_dir: str | Path) -> Path:
    """The ring every process on this data dir signs and verifies with."""
    return Path(data_dir) / "keys" / "access-tokens.json"


def rotate_when_due(ring: KeyRing, rotation_days: float) -> str | None:
    """Prune lapsed keys; rotate when the current key is ``rotation_days`` old (``0``: never).
    The new kid, or None. Blocking (file writes with fsync): run it in a thread."""
    ring.prune()
    if rotation_days <= 0:
        return None
    return ring.rotate_if_older(rotation_days * DAY_SECONDS, grace_seconds=TOKEN_LIFETIME_SECONDS)


def check_interval(rotation_days: float) -> float:
    """Seconds between checks: hourly, more often for short rotation periods, and often
    enough that retired keys leave the file soon after their grace ends."""
    period = rotation_days * DAY_SECONDS if rotation_days > 0 else DAY_SECONDS
    return max(1.0, min(3600.0, period / 24, TOKEN_LIFETIME_SECONDS / 2))


async def rotate_keys_forever(ring: KeyRing, rotation_days: float) -> None:
    """The server's rotation task (cancelled at shutdown)."""
    interval = check_interval(rotation_days)
    while True:
        try:
            kid = await asyncio.to_thread(rotate_when_due, ring, rotation_days)
        except (OSError, KeyRingError) as error:
            log.warning("signing key rotation failed", error=str(error))
        else:
            if kid is not None:
                log.info("signing key rotated", kid=kid, rotation_days=rotation_days)
        await asyncio.sleep(interval)
