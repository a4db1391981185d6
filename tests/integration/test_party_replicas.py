"""A watch party across two real `revenge serve` replicas sharing PostgreSQL and Redis.

Five members subscribe with the real graphql-ws client (tests/js/party-client.mjs), some on each
replica, while commands arrive alternately through both replicas from the host and a co-host.
Every member sees the same events in the same order, a start is scheduled at least half a second
ahead and at the same instant for all (also the start a NEXT waits for, which the last player's
ready report sets off), and each mutation answers what the subscribers saw. One subscriber's
socket dies while a command is in flight without disturbing the others. Then replica A is
stopped with SIGTERM: the party lives on, its members reconnect to B and find it as it was, and
the next command reaches everyone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.gateway.conftest import JS_DIR, free_port, node_modules  # noqa: F401 (a fixture)
from tests.support.auth import admin_api_key
from tests.support.catalog_rows import insert_item, insert_library
from tests.support.replicas import Replica

MIN_START_LEAD = timedelta(milliseconds=500)
EVENT_FIELDS = ("kind", "state", "positionMs", "stateChangedAt")
PARTY_FIELDS = "id state positionMs stateChangedAt endedAt members { userId profileId role }"


# -- replicas --------------------------------------------------------------------------------


@pytest.fixture
async def replicas(
    pool: asyncpg.Pool, database_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Replica, Replica]]:
    started = await asyncio.gather(
        *(
            Replica.start(name, database_url, redis_url, tmp_path / name, tmp_path / f"{name}.log")
            for name in ("a", "b")
        )
    )
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.gather(*(replica.ready(client) for replica in started))
        yield started[0], started[1]
    finally:
        for replica in started:
            await replica.kill_group()


# -- GraphQL over HTTP -----------------------------------------------------------------------


@dataclass
class Member:
    name: str
    key: str
    user_id: str
    profile_id: str


async def make_member(pool: asyncpg.Pool, name: str) -> Member:
    key = await admin_api_key(pool, name)
    row = await pool.fetchrow(
        "SELECT u.id AS user_id, p.id AS profile_id FROM users AS u "
        "JOIN profiles AS p ON p.user_id = u.id WHERE u.name = $1",
        name,
    )
    return Member(name, key, str(row["user_id"]), str(row["profile_id"]))


async def ask(
    client: httpx.AsyncClient, replica: Replica, member: Member, query: str, **variables: Any
) -> Any:
    response = await client.post(
        f"{replica.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"x-api-key": member.key},
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


async def command(
    client: httpx.AsyncClient,
    replica: Replica,
    member: Member,
    party_id: str,
    kind: str,
    position_ms: int | None = None,
) -> tuple[datetime, dict[str, Any]]:
    """(when it was sent, the party the mutation answered)."""
    sent = datetime.now(UTC)
    data = await ask(
        client,
        replica,
        member,
        f"mutation ($p: ID!, $c: PartyCommand!, $ms: Int) "
        f"{{ watchPartyCommand(partyId: $p, command: $c, positionMs: $ms) {{ {PARTY_FIELDS} }} }}",
        p=party_id,
        c=kind,
        ms=position_ms,
    )
    return sent, data["watchPartyCommand"]


async def report_ready(
    client: httpx.AsyncClient, placed: list[tuple[Member, Replica]], party_id: str
) -> tuple[datetime, dict[str, Any]]:
    """Every member's player reports ready through its replica; (when the last report was
    sent, the party its answer shows)."""
    for member, replica in placed:
        sent = datetime.now(UTC)
        data = await ask(
            client,
            replica,
            member,
            "mutation ($p: ID!) { reportWatchPartyPosition(partyId: $p, positionMs: 0, isReady: "
            f"true, latencyMs: 20) {{ member {{ isReady }} party {{ {PARTY_FIELDS} }} }} }}",
            p=party_id,
        )
        assert data["reportWatchPartyPosition"]["member"] == {"isReady": True}
    return sent, data["reportWatchPartyPosition"]["party"]


async def say(
    client: httpx.AsyncClient, replica: Replica, member: Member, party_id: str, body: str
) -> None:
    await ask(
        client,
        replica,
        member,
        "mutation ($p: ID!, $b: String!) { sendWatchPartyMessage(partyId: $p, body: $b) { id } }",
        p=party_id,
        b=body,
    )


# -- the JavaScript subscribers --------------------------------------------------------------


class PartyClient:
    """tests/js/party-client.mjs: subscribers on the real graphql-ws client, told to stop at a
    chat message, reporting the chat messages each one receives as they arrive."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.received: set[tuple[str, str]] = set()  # (subscriber, message body)
        self.result: dict[str, Any] | None = None

    @classmethod
    async def start(
        cls, subscribers: list[tuple[str, Replica, Member]], party_id: str, until: str
    ) -> PartyClient:
        config = {
            "subscribers": [
                {"name": name, "url": replica.ws_url, "apiKey": member.key, "partyId": party_id}
                for name, replica, member in subscribers
            ],
            "untilMessage": until,
            "timeoutMs": 25_000,
        }
        process = await asyncio.create_subprocess_exec(
            "node",
            "party-client.mjs",
            json.dumps(config),
            cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        client = cls(process)
        assert await client._line() == "ready", await client.finish()
        return client

    async def _line(self) -> str:
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), 30)).decode().strip()
        if line.startswith("message "):
            _, name, body = line.split(" ", 2)
            self.received.add((name, body))
        elif line.startswith("{"):
            self.result = json.loads(line)["subscribers"]
        return line

    async def kill(self, name: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"kill {name}\n".encode())
        await self.process.stdin.drain()
        while (line := await self._line()) != f"killed {name}":
            assert line.startswith("message "), line

    async def until_received(self, names: list[str], body: str) -> None:
        while not all((name, body) in self.received for name in names):
            assert await self._line() != "", "party-client.mjs ended early"

    async def finish(self) -> dict[str, Any]:
        while self.result is None:
            if await self._line() == "":
                break
        assert self.process.stdin is not None
        self.process.stdin.close()
        _, stderr = await asyncio.wait_for(self.process.communicate(), 10)
        assert self.result is not None, stderr.decode()
        return self.result


def sequence(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(event["kind"], *(event["party"][f] for f in EVENT_FIELDS[1:])) for event in events]


def as_event(kind: str, party: dict[str, Any]) -> tuple[Any, ...]:
    return (kind, *(party[f] for f in EVENT_FIELDS[1:]))


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- the test --------------------------------------------------------------------------------


@pytest.mark.usefixtures("node_modules")
async def test_a_party_spans_replicas_and_outlives_one(
    replicas: tuple[Replica, Replica], pool: asyncpg.Pool
) -> None:
    a, b = replicas
    library_id = await insert_library(pool)
    film_id = str(await insert_item(pool, library_id, "Film"))
    sequel_id = str(await insert_item(pool, library_id, "Sequel"))
    host, cohost, ann, bob, dan = [
        await make_member(pool, name) for name in ("host", "cohost", "ann", "bob", "dan")
    ]
    placed = [(host, a), (cohost, b), (ann, a), (bob, b), (dan, a)]  # where each subscribes
    async with httpx.AsyncClient(timeout=10) as http:
        created = (
            await ask(
                http,
                a,
                host,
                "mutation ($i: ID!, $q: [ID!]) { createWatchParty(itemId: $i, queue: $q, "
                "control: HOSTS) { id inviteCode } }",
                i=film_id,
                q=[sequel_id],
            )
        )["createWatchParty"]
        party_id = created["id"]
        for member, replica in placed[1:]:
            await ask(
                http,
                replica,
                member,
                f"mutation ($c: String!) {{ joinWatchParty(code: $c) {{ {PARTY_FIELDS} }} }}",
                c=created["inviteCode"],
            )
        await ask(
            http,
            b,
            host,
            "mutation ($p: ID!, $u: ID!, $pr: ID!) { setWatchPartyRole(partyId: $p, userId: $u, "
            "profileId: $pr, role: COHOST) { id } }",
            p=party_id,
            u=cohost.user_id,
            pr=cohost.profile_id,
        )

        # Given five subscribers, three on A and two on B
        first = await PartyClient.start(
            [(m.name, r, m) for m, r in placed], party_id, until="the end"
        )
        answers: list[tuple[str, datetime, dict[str, Any]]] = []  # (kind, sent, party)

        async def run(replica: Replica, member: Member, kind: str, ms: int | None = None) -> None:
            sent, party = await command(http, replica, member, party_id, kind, ms)
            answers.append((kind.lower(), sent, party))

        # When commands arrive through both replicas from the host and the co-host
        await report_ready(http, placed, party_id)
        await run(a, host, "PLAY")
        await run(b, cohost, "SEEK", 60_000)
        await run(a, host, "PAUSE")
        in_flight = asyncio.create_task(run(b, cohost, "PLAY"))
        await asyncio.sleep(0)  # the request is on its way
        await first.kill("dan")  # dan's socket dies while the play is on its way
        await in_flight
        await say(http, a, ann, party_id, "hello")
        await run(b, cohost, "NEXT")  # the sequel: the party waits for every player
        resumed_sent, resumed = await report_ready(http, placed, party_id)
        await run(a, host, "PLAY")
        await run(b, cohost, "PAUSE", 5_000)
        await say(http, a, host, party_id, "checkpoint")
        await first.until_received(["host", "ann"], "checkpoint")

        # … and then replica A stops
        assert await a.terminate() == 0, a.output
        second = await PartyClient.start(
            [(m.name, b, m) for m in (host, ann, dan)], party_id, until="the end"
        )
        await run(b, cohost, "PLAY")
        await say(http, b, host, party_id, "the end")
        before, after = await first.finish(), await second.finish()

    # Then every subscriber saw the same events in the same order
    assert [kind for kind, _, _ in answers] == [
        "play",
        "seek",
        "pause",
        "play",
        "next",
        "play",
        "pause",
        "play",
    ]
    live = {name: before[name] for name in ("host", "cohost", "ann", "bob")}
    seen_on_b = sequence(live["cohost"]["events"])
    assert live["cohost"].get("done") and live["bob"].get("done"), (live["cohost"], live["bob"])
    assert sequence(live["bob"]["events"]) == seen_on_b
    assert [kind for kind, *_ in seen_on_b] == [
        "current",
        "play",
        "seek",
        "pause",
        "play",
        "message",  # hello
        "next",
        "resume",  # the last player got ready
        "play",
        "pause",
        "message",  # checkpoint
        "play",  # after replica A stopped
        "message",  # the end
    ]
    # … those on A until A stopped; then their socket closed, without a clean complete
    for name in ("host", "ann"):
        assert sequence(live[name]["events"]) == seen_on_b[:11], name
        assert live[name]["closed"]["code"] in (1001, 1006, 1012), live[name]
        assert "completed" not in live[name] and "timedOut" not in live[name], live[name]

    # … each command's answer is what they saw
    commands = [event for event in seen_on_b if event[0] not in ("current", "message", "resume")]
    assert commands == [as_event(kind, party) for kind, _, party in answers]
    # … every start is scheduled at least 500 ms after what caused it was sent, alike for all
    for kind, sent, party in answers:
        if kind == "play":
            assert party["state"] == "PLAYING"
            assert when(party["stateChangedAt"]) >= sent + MIN_START_LEAD, (sent, party)
    next_party = answers[4][2]
    assert (next_party["state"], next_party["positionMs"]) == ("WAITING", 0)
    assert as_event("resume", resumed) == seen_on_b[7]
    assert resumed["state"] == "PLAYING"
    assert when(resumed["stateChangedAt"]) >= resumed_sent + MIN_START_LEAD
    # … the chat arrived in place
    messages = [e["message"]["body"] for e in live["cohost"]["events"] if e["kind"] == "message"]
    assert messages == ["hello", "checkpoint", "the end"]

    # Then the socket killed mid-command saw a prefix of the same events and troubled nobody
    killed = before["dan"]
    assert killed["killed"] is True
    assert 1 <= len(killed["events"]) <= 5
    assert sequence(killed["events"]) == seen_on_b[: len(killed["events"])]

    # Then the members who were on A find the party on B as it was, and see the next command
    paused = answers[6][2]
    for name in ("host", "ann", "dan"):
        result = after[name]
        assert result.get("done") is True, (name, result)
        current = result["events"][0]["party"]
        assert result["events"][0]["kind"] == "current"
        assert (current["state"], current["positionMs"]) == ("PAUSED", 5_000)
        assert current["stateChangedAt"] == paused["stateChangedAt"]
        assert current["endedAt"] is None
        assert sorted(m["userId"] for m in current["members"]) == sorted(
            m.user_id for m in (host, cohost, ann, bob, dan)
        )
        assert sequence(result["events"])[1:] == seen_on_b[-2:]
