"""Password hashing: argon2id with the stated parameters, rehash detection, the async bound."""

from __future__ import annotations

import asyncio
import threading

import pytest

from infra import passwords
from infra.passwords import (
    hash_password,
    hash_password_async,
    make_hasher,
    needs_rehash,
    verify_password,
    verify_password_async,
)

# Cheap parameters for tests that make many hashes; the real ones are checked separately.
CHEAP = make_hasher(time_cost=1, memory_cost=8, parallelism=1)


def test_hash_uses_argon2id_with_the_stated_parameters() -> None:
    stored = hash_password("correct horse battery staple")

    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(stored, "correct horse battery staple") is True


def test_a_wrong_password_is_refused() -> None:
    stored = hash_password("correct horse", hasher=CHEAP)

    assert verify_password(stored, "correct horsE", hasher=CHEAP) is False
    assert verify_password(stored, "", hasher=CHEAP) is False


def test_two_hashes_of_one_password_differ_by_salt() -> None:
    assert hash_password("same", hasher=CHEAP) != hash_password("same", hasher=CHEAP)


@pytest.mark.parametrize(
    "stored", ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$garbage", "$2b$12$abcdefghijk"]
)
def test_an_unusable_hash_is_a_refusal_not_an_exception(stored: str) -> None:
    assert verify_password(stored, "anything") is False
    assert needs_rehash(stored) is True


def test_a_hash_made_with_other_parameters_needs_rehash_but_still_verifies() -> None:
    old = hash_password("pass phrase", hasher=CHEAP)

    assert verify_password(old, "pass phrase") is True
    assert needs_rehash(old) is True
    assert needs_rehash(hash_password("pass phrase")) is False


def test_raising_the_cost_marks_existing_hashes_for_rehash() -> None:
    current = hash_password("pass phrase", hasher=CHEAP)
    stronger = make_hasher(time_cost=2, memory_cost=8, parallelism=1)

    assert needs_rehash(current, hasher=CHEAP) is False
    assert needs_rehash(current, hasher=stronger) is True


async def test_async_verify_gives_the_same_answers() -> None:
    stored = await hash_password_async("secret", hasher=CHEAP)

    assert await verify_password_async(stored, "secret", hasher=CHEAP) is True
    assert await verify_password_async(stored, "wrong", hasher=CHEAP) is False


async def test_async_verify_runs_off_the_event_loop_at_most_two_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop_thread = threading.get_ident()
    lock = threading.Lock()
    running = 0
    peak = 0
    threads: set[int] = set()
    release = threading.Event()

    def slow_verify(password_hash: str, password: str, **_: object) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.get_ident())
        release.wait(5)
        with lock:
            running -= 1
        return password == "ok"

    monkeypatch.setattr(passwords, "verify_password", slow_verify)
    tasks = [asyncio.create_task(verify_password_async("h", "ok")) for _ in range(6)]
    for _ in range(100):
        await asyncio.sleep(0.01)
        if running == 2:
            break
    release.set()
    results = await asyncio.gather(*tasks)

    assert results == [True] * 6
    assert peak == passwords.CONCURRENCY == 2
    assert loop_thread not in threads
