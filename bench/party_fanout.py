"""Watch-party fan-out: how long a command takes to reach all 50 members across two replicas.

Two real `revenge serve` processes share one PostgreSQL (embedded, fresh) and one Redis
(``REVENGE_BENCH_REDIS_URL``, else a private ``redis-server``), so events cross replicas on the
Redis bus. A 50-member party has 25 members' ``watchPartyEvents`` subscriptions on each replica
(graphql-transport-ws, one socket per member, all held by this process's event loop). Every
member reports ready; then co-hosts issue ``--commands`` commands (PAUSE, SEEK, PLAY in turn,
each at its own position so its event is recognised), alternating the replica that takes the
mutation, ``--gap`` seconds apart. For every member, the figure is the time from sending the
mutation to receiving that command's event; the split by replica shows what the Redis hop costs.

Target (the watch-party issue): p99 ≤ 50 ms.

    .venv/bin/python bench/party_fanout.py [--commands 200] [--gap 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _support import bench_database_and_url, figure, median, percentile, run_like_serve
from websockets.asyncio.client import ClientConnection, connect

from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_item, insert_library
from tests.support.replicas import Replica, free_port

TARGET_P99_MS = 50.0
MEMBERS = 50
ISSUERS = 8  # co-hosts taking turns: each stays under the per-member command limit
EVENTS = (
    "subscription ($p: ID!) { watchPartyEvents(partyId: $p) "
    "{ kind party { state positionMs stateChangedAt } } }"
)
COMMAND = (
    "mutation ($p: ID!, $c: PartyCommand!, $ms: Int) "
    "{ watchPartyCommand(partyId: $p, command: $c, positionMs: $ms) { state positionMs } }"
)


# -- processes -------------------------------------------------------------------------------


async def wait_for_port(port: int, process: asyncio.subprocess.Process, what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        if process.returncode is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def redis_url(folder: Path) -> AsyncIterator[str]:
    external = os.environ.get("REVENGE_BENCH_REDIS_URL")
    if external:
        yield external
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is needed (or set REVENGE_BENCH_REDIS_URL)")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        binary,
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        *("--dir", str(folder)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def replicas(database_url: str, cache_url: str, folder: Path) -> AsyncIterator[list[Replica]]:
    """Two `revenge serve` processes, each in a session of its own (stopped with its group)."""
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            started.append(
                await Replica.start(
                    name,
                    database_url,
                    cache_url,
                    folder / name,
                    folder / f"{name}.log",
                    # 50 members from one address: well within, but not at, the default limits
                    REVENGE_DATABASE_POOL_MAX_CONNS="20",
                )
            )
        async with httpx.AsyncClient(timeout=2) as client:
            for replica in started:
                await replica.ready(client, seconds=60)
        yield started
    finally:
        for replica in started:
            try:
                await replica.terminate()
            except TimeoutError:
                await replica.kill_group()


# -- members ---------------------------------------------------------------------------------


@dataclass
class Member:
    key: str
    replica: Replica
    user_id: str = ""
    profile_id: str = ""
    socket: ClientConnection | None = None
    # positionMs of a command's event → perf_counter() when it arrived
    arrivals: dict[int, float] = field(default_factory=dict)


async def ask(
    client: httpx.AsyncClient, member: Member, query: str, replica: Replica | None = None, **v: Any
) -> Any:
    response = await client.post(
        f"{(replica or member.replica).url}/graphql",
        json={"query": query, "variables": v},
        headers={"x-api-key": member.key},
    )
    body = response.json()
    if response.status_code != 200 or "errors" in body:
        raise SystemExit(f"GraphQL failed: {body}")
    return body["data"]


async def subscribe(member: Member, party_id: str) -> None:
    """Open the member's socket and subscription; returns once the `current` event is in."""
    ws = await connect(member.replica.ws_url, subprotocols=["graphql-transport-ws"], max_queue=None)
    await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": member.key}}))
    if json.loads(await ws.recv())["type"] != "connection_ack":
        raise SystemExit("no connection_ack")
    payload = {"query": EVENTS, "variables": {"p": party_id}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    while (message := json.loads(await ws.recv()))["type"] != "next":
        if message["type"] != "ping":
            raise SystemExit(f"unexpected: {message}")
    if message["payload"]["data"]["watchPartyEvents"]["kind"] != "current":
        raise SystemExit(f"first event is not current: {message}")
    member.socket = ws


async def read_events(member: Member) -> None:
    assert member.socket is not None
    with contextlib.suppress(Exception):
        async for raw in member.socket:
            arrived = time.perf_counter()
            message = json.loads(raw)
            if message["type"] == "ping":
                await member.socket.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                event = message["payload"]["data"]["watchPartyEvents"]
                member.arrivals.setdefault(event["party"]["positionMs"], arrived)
            else:
                print(f"member {member.user_id}: {message}", file=sys.stderr)


async def redis_counts(url: str, party_id: str) -> tuple[int, int]:
    """(Redis connections open, subscribers of the party's channel) with everyone subscribed."""
    import redis.asyncio as redis

    connection = redis.from_url(url)
    try:
        clients = (await connection.info("clients"))["connected_clients"] - 1  # not this one
        [(_, count)] = await connection.pubsub_numsub(f"revenge:party:{party_id}")
        return int(clients), int(count)
    finally:
        await connection.aclose()


# -- the benchmark ---------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="revenge-bench-party-") as folder:
        async with (
            bench_database_and_url() as (pool, database_url),
            redis_url(Path(folder)) as cache_url,
            replicas(database_url, cache_url, Path(folder)) as (a, b),
            httpx.AsyncClient(timeout=30) as client,
        ):
            library_id = await insert_library(pool, name="Bench")
            item_id = str(await insert_item(pool, library_id, "Bench Film"))
            keys = [await admin_api_key(pool, f"member-{n:02d}") for n in range(MEMBERS)]
            rows = await pool.fetch(
                "SELECT u.name, u.id AS user_id, p.id AS profile_id FROM users AS u "
                "JOIN profiles AS p ON p.user_id = u.id"
            )
            ids = {row["name"]: (str(row["user_id"]), str(row["profile_id"])) for row in rows}
            members = [
                Member(key, (a, b)[n % 2], *ids[f"member-{n:02d}"]) for n, key in enumerate(keys)
            ]
            host = members[0]
            created = await ask(
                client,
                host,
                "mutation ($i: ID!) { createWatchParty(itemId: $i, control: HOSTS) "
                "{ id inviteCode } }",
                i=item_id,
            )
            party_id = created["createWatchParty"]["id"]
            code = created["createWatchParty"]["inviteCode"]
            for member in members[1:]:
                await ask(
                    client,
                    member,
                    "mutation ($c: String!) { joinWatchParty(code: $c) { id } }",
                    c=code,
                )
            issuers = [host, *members[1:ISSUERS]]
            for issuer in issuers[1:]:
                await ask(
                    client,
                    host,
                    "mutation ($p: ID!, $u: ID!, $pr: ID!) { setWatchPartyRole(partyId: $p, "
                    "userId: $u, profileId: $pr, role: COHOST) { id } }",
                    p=party_id,
                    u=issuer.user_id,
                    pr=issuer.profile_id,
                )
            await asyncio.gather(*(subscribe(member, party_id) for member in members))
            readers = [asyncio.create_task(read_events(member)) for member in members]
            redis_clients, channel_subscribers = await redis_counts(cache_url, party_id)
            for member in members:
                await ask(
                    client,
                    member,
                    "mutation ($p: ID!) { reportWatchPartyPosition(partyId: $p, positionMs: 0, "
                    "isReady: true, latencyMs: 5) { member { isReady } } }",
                    p=party_id,
                )
            await asyncio.sleep(0.5)

            sent: dict[int, tuple[float, Replica]] = {}  # positionMs → (perf_counter, replica)
            round_trips: list[float] = []
            kinds = ("PAUSE", "SEEK", "PLAY")
            for number in range(args.commands):
                issuer = issuers[number % len(issuers)]
                replica = (a, b)[number % 2]
                position = 10_000 + number * 1_000  # each command's own: its events say which
                started = time.perf_counter()
                sent[position] = (started, replica)
                await ask(
                    client,
                    issuer,
                    COMMAND,
                    replica=replica,
                    p=party_id,
                    c=kinds[number % len(kinds)],
                    ms=position,
                )
                round_trips.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(args.gap)
            await asyncio.sleep(2.0)  # stragglers
            for task in readers:
                task.cancel()
            for member in members:
                if member.socket is not None:
                    await member.socket.close()

    same: list[float] = []
    cross: list[float] = []
    for member in members:
        for position, (started, replica) in sent.items():
            if position in member.arrivals:
                delay = (member.arrivals[position] - started) * 1000
                (same if member.replica is replica else cross).append(delay)
    delays = same + cross
    # per command: the first member's delay and the spread to the last (this client reads 50
    # sockets on one loop, so part of the spread is its own)
    firsts: list[float] = []
    spreads: list[float] = []
    for position, (started, _) in sent.items():
        got = [m.arrivals[position] for m in members if position in m.arrivals]
        if got:
            firsts.append((min(got) - started) * 1000)
            spreads.append((max(got) - min(got)) * 1000)
    expected = len(sent) * len(members)
    if not delays:
        raise SystemExit("no events arrived")
    p99 = percentile(delays, 0.99)
    figure("fanout_p50", percentile(delays, 0.50), "ms")
    figure("fanout_p99", p99, "ms")
    figure("fanout_max", max(delays), "ms")
    figure("fanout_same_replica_p50", median(same), "ms")
    figure("fanout_same_replica_p99", percentile(same, 0.99), "ms")
    figure("fanout_cross_replica_p50", median(cross), "ms")
    figure("fanout_cross_replica_p99", percentile(cross, 0.99), "ms")
    figure("fanout_first_member_p50", median(firsts), "ms")
    figure("fanout_first_to_last_p50", median(spreads), "ms")
    figure("mutation_round_trip_p50", median(round_trips), "ms")
    figure("mutation_round_trip_p99", percentile(round_trips, 0.99), "ms")
    figure("redis_connections", redis_clients, "connections")
    figure("redis_party_channel_subscribers", channel_subscribers, "subscribers")
    print(f"events_delivered {len(delays)}/{expected} events", flush=True)
    met = p99 <= TARGET_P99_MS and len(delays) == expected
    print(
        f"summary party_fanout members={len(members)} replicas=2 commands={len(sent)} "
        f"p50={percentile(delays, 0.5):.1f} ms p99={p99:.1f} ms max={max(delays):.1f} ms "
        f"delivered={len(delays)}/{expected} (target p99 <= {TARGET_P99_MS:.0f} ms, all "
        f"delivered: {'met' if met else 'MISSED'})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between commands")
    run_like_serve(run(parser.parse_args()))


if __name__ == "__main__":
    main()
