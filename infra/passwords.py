"""Password hashing with argon2id, sized so sign-in stays fast and guessing stays expensive.

Parameters: argon2id, ``time_cost=2``, ``memory_cost=19456`` KiB (19 MiB), ``parallelism=1``,
32-byte hash, 16-byte salt — OWASP's recommended argon2id configuration. On the 2-core
development machine one verify takes about 36 ms (median of 20), inside the 30-60 ms budget
that keeps a sign-in well under the 150 ms target while making offline guessing costly.

Hashes made with other parameters still verify; ``needs_rehash`` tells the sign-in flow to
store a fresh hash after a successful verify, so raising the cost later upgrades accounts as
their owners sign in.

Hashing is CPU-bound and would stall every request sharing the event loop, so the async
variants run in a thread and at most ``CONCURRENCY`` at a time: a burst of sign-ins (or an
attack) queues instead of taking every core.
"""

from __future__ import annotations

import asyncio
import weakref

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "CONCURRENCY",
    "DEFAULT_HASHER",
    "hash_password",
    "hash_password_async",
    "make_hasher",
    "needs_rehash",
    "verify_password",
    "verify_password_async",
]

CONCURRENCY = 2


def make_hasher(
    *, time_cost: int = 2, memory_cost: int = 19456, parallelism: int = 1
) -> PasswordHasher:
    """An argon2id hasher; the defaults are the parameters stated in the module docstring."""
    return PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


DEFAULT_HASHER = make_hasher()


def hash_password(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """A PHC-format argon2id hash (``$argon2id$v=19$m=…``) with a fresh random salt."""
    return hasher.hash(password)


def verify_password(
    password_hash: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER
) -> bool:
    """True when ``password`` matches; False on mismatch or an unusable hash, never raises."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError, ValueError, TypeError):
        return False


def needs_rehash(password_hash: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """True when the hash was made with other parameters (or is unreadable)."""
    try:
        return hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


_semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _semaphore() -> asyncio.Semaphore:
    # One semaphore per event loop: asyncio primitives must not be shared across loops.
    loop = asyncio.get_running_loop()
    semaphore = _semaphores.get(loop)
    if semaphore is None:
        semaphore = _semaphores[loop] = asyncio.Semaphore(CONCURRENCY)
    return semaphore


async def verify_password_async(
    password_hash: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER
) -> bool:
    """``verify_password`` in a worker thread, at most ``CONCURRENCY`` at once per loop."""
    async with _semaphore():
        return await asyncio.to_thread(verify_password, password_hash, password, hasher=hasher)


async def hash_password_async(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """``hash_password`` in a worker thread, sharing the verify bound."""
    async with _semaphore():
        return await asyncio.to_thread(hash_password, password, hasher=hasher)
