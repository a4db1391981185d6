"""Sign-in benchmark: the ``signIn`` mutation over real HTTP against the real app.

The app (``create_app``) is served by uvicorn on 127.0.0.1 (a free port) on a fresh embedded
PostgreSQL, exactly as ``bench/catalog_page.py`` serves it. One user is created with a password
of realistic length; a client in a child process (this script with ``--client``) signs in
``--requests`` times in a row on one keep-alive httpx client (after ``--warmup`` sign-ins) and
reports each latency. Every sign-in succeeds, and a success clears the account's and the
address's failure history, so repeating them from one address never trips the lockout.

Printed: p50/p95 latency, the SQL statements one sign-in runs, the argon2 parameters in use
(``infra.passwords.DEFAULT_HASHER``) and, for scale, one bare argon2 verify in this process
(median, measured before and after the HTTP run).

Target: p50 <= 150 ms with the argon2 cost in use.

    ./dev bench signin [--requests 100] [--warmup 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from typing import Any

import httpx
from _support import (
    ROOT,
    bench_database_and_url,
    figure,
    median,
    percentile,
    run_like_serve,
    served,
)

from infra.database import Database
from infra.passwords import DEFAULT_HASHER, hash_password, verify_password
from infra.settings import load_settings
from resolvers.user.accounts import create_user
from tests.support.catalog_rows import StatementCountingPool

TARGET_P50_MS = 150.0
USER_NAME = "bench-reader"
PASSWORD = "violet-otter-marmalade-1987"  # 27 characters: a passphrase a person would pick
VERIFY_SAMPLES = 20

SIGN_IN = """
mutation SignIn($name: String!, $password: String!) {
  signIn(name: $name, password: $password) {
    __typename
    ... on SignInPayload { accessToken refreshToken expiresIn user { id name } }
    ... on AuthError { code message }
  }
}
"""


# --- client (a child process) ---------------------------------------------------------------


def post_sign_in(client: httpx.Client) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": SIGN_IN, "variables": {"name": USER_NAME, "password": PASSWORD}},
        headers={"accept": "application/graphql-response+json"},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    check_signed_in(body)
    return body


def check_signed_in(body: dict[str, Any]) -> None:
    """Every timed request really signed in (a lockout or an error would be far cheaper)."""
    result = (body.get("data") or {}).get("signIn") or {}
    if body.get("errors") or result.get("__typename") != "SignInPayload":
        raise SystemExit(f"sign-in did not succeed: {body}")
    if not result.get("accessToken") or not result.get("refreshToken"):
        raise SystemExit(f"sign-in returned no tokens: {body}")


def client_main(url: str, requests: int, warmup: int) -> None:
    """Warm up, then time sequential sign-ins; prints the times (ms) as JSON."""
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(warmup):
            post_sign_in(client)
        for _ in range(requests):
            started = time.perf_counter()
            post_sign_in(client)
            times.append((time.perf_counter() - started) * 1000)
    print(json.dumps(times))


# --- server and measurements ----------------------------------------------------------------


async def time_sign_ins(url: str, args: argparse.Namespace) -> list[float]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        url,
        str(args.requests),
        str(args.warmup),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"client failed (exit {child.returncode})")
    times: list[float] = json.loads(output)
    return times


async def count_statements(database: Database, url: str) -> int:
    """Statements one sign-in runs (``database.pool`` is read afresh by each request)."""
    plain = database.pool
    counting = StatementCountingPool(plain)
    database.pool = counting
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            response = await client.post(
                "/graphql",
                json={"query": SIGN_IN, "variables": {"name": USER_NAME, "password": PASSWORD}},
            )
    finally:
        database.pool = plain
    response.raise_for_status()
    check_signed_in(response.json())
    return len(counting.statements)


def bare_verify_ms(password_hash: str) -> list[float]:
    """One argon2 verify of the right password, in this process, without the event loop."""
    times: list[float] = []
    for _ in range(VERIFY_SAMPLES):
        started = time.perf_counter()
        if not verify_password(password_hash, PASSWORD):
            raise SystemExit("argon2 verify failed")
        times.append((time.perf_counter() - started) * 1000)
    return times


async def run(args: argparse.Namespace) -> None:
    hasher = DEFAULT_HASHER
    t = time.perf_counter()
    async with bench_database_and_url() as (pool, url):
        async with pool.acquire() as conn:
            await create_user(conn, USER_NAME, PASSWORD, ("user",))
        database = Database(pool=pool, url=url)
        password_hash = hash_password(PASSWORD)
        verify_times = bare_verify_ms(password_hash)
        with tempfile.TemporaryDirectory(prefix="revenge-bench-data-") as data_dir:
            settings = load_settings({"REVENGE_LOG_LEVEL": "warning", "REVENGE_DATA_DIR": data_dir})
            async with served(settings, database) as url:
                figure("signin.setup_seconds", time.perf_counter() - t, "s")
                times = await time_sign_ins(url, args)
                statements = await count_statements(database, url)
        verify_times += bare_verify_ms(password_hash)
        sessions = await pool.fetchval(
            "SELECT count(*) FROM auth_sessions s JOIN users u ON u.id = s.user_id "
            "WHERE u.name = $1",
            USER_NAME,
        )
    expected = args.requests + args.warmup + 1
    if sessions != expected:
        raise SystemExit(f"expected {expected} sessions, found {sessions}")
    p50 = median(times)
    print(f"signin.argon2_time_cost {hasher.time_cost} iterations", flush=True)
    print(f"signin.argon2_memory_cost {hasher.memory_cost} KiB", flush=True)
    print(f"signin.argon2_parallelism {hasher.parallelism} lanes", flush=True)
    print(f"signin.password_length {len(PASSWORD)} characters", flush=True)
    print(f"signin.statements {statements} statements", flush=True)
    figure("signin.argon2_verify_p50", median(verify_times), "ms")
    figure("signin.p50", p50, "ms")
    figure("signin.p95", percentile(times, 0.95), "ms")
    figure("signin.min", min(times), "ms")
    met = p50 <= TARGET_P50_MS
    print(
        f"summary signin requests={args.requests} warmup={args.warmup} p50={p50:.1f} ms "
        f"p95={percentile(times, 0.95):.1f} ms (target p50 <= {TARGET_P50_MS:.0f}: "
        f"{'met' if met else 'MISSED'}) argon2{hasher.type.name.lower()} t={hasher.time_cost} "
        f"m={hasher.memory_cost} KiB p={hasher.parallelism} "
        f"bare_verify_p50={median(verify_times):.1f} ms statements={statements}",
        flush=True,
    )


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        url, requests, warmup = sys.argv[2:5]
        client_main(url, int(requests), int(warmup))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    run_like_serve(run(args))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
