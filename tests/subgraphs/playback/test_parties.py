"""Watch parties through the playback subgraph: create, join by code, commands and chat reach a
member's subscription in order with the party's state, sync hints, and strangers see nothing."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable

import asyncpg
import pytest

from infra.bus import InProcessBus
from loaders.context import Context
from resolvers.playback import party_sync
from subgraphs.playback.schema import schema
from tests.subgraphs.playback.conftest import (
    Execute,
    add_file,
    add_item,
    add_library,
    error_codes,
    make_viewer,
)

CREATE = """mutation($item: ID!) {
  createWatchParty(itemId: $item, control: EVERYONE) { id inviteCode state members { role } }
}"""
JOIN = """mutation($code: String!) {
  joinWatchParty(code: $code) { id members { role displayName } }
}"""
COMMAND = """mutation($party: ID!, $command: PartyCommand!, $at: Int) {
  watchPartyCommand(partyId: $party, command: $command, positionMs: $at) {
    state positionMs stateChangedAt
  }
}"""
EVENTS = """subscription($party: ID!) {
  watchPartyEvents(partyId: $party) {
    kind serverTime message { body }
    party { state positionMs stateChangedAt members { role displayName } }
  }
}"""
REPORT = """mutation($party: ID!, $at: Int!) {
  reportWatchPartyPosition(partyId: $party, positionMs: $at, isReady: true, latencyMs: 80) {
    driftMs action member { isReady latencyMs }
  }
}"""


async def test_a_party_carries_commands_and_chat_to_its_members(
    pool: asyncpg.Pool, execute: Execute, context: Callable[..., Context], bus: InProcessBus
) -> None:
    item_id = await add_item(pool, await add_library(pool), "Film")
    await add_file(pool, item_id)
    bob = await make_viewer(pool, "bob")
    created = (await execute(CREATE, item=str(item_id))).data["createWatchParty"]
    party_id = created["id"]
    joined = await execute(
        JOIN, context_value=context(principal=bob.principal), code=created["inviteCode"]
    )
    for viewer_context in (context(), context(principal=bob.principal)):
        await execute(REPORT, context_value=viewer_context, party=party_id, at=0)
    stream = await schema.subscribe(
        EVENTS, variable_values={"party": party_id}, context_value=context()
    )
    current = await anext(stream)
    topic = f"party:{party_id}"
    while bus.subscriber_count(topic) == 0:  # noqa: ASYNC110 - the bus offers no event to wait on
        await asyncio.sleep(0.01)

    as_bob = context(principal=bob.principal)
    played = await execute(COMMAND, context_value=as_bob, party=party_id, command="PLAY")
    await execute(
        'mutation($p: ID!) { sendWatchPartyMessage(partyId: $p, body: "  popcorn?  ") { body } }',
        context_value=as_bob,
        p=party_id,
    )
    paused = await execute(COMMAND, context_value=as_bob, party=party_id, command="PAUSE")
    events = [await asyncio.wait_for(anext(stream), 5) for _ in range(3)]
    await stream.aclose()

    assert created["state"] == "WAITING" and created["members"] == [{"role": "HOST"}]
    # Members see each other by the profile name they joined with, also on the bus's events.
    names = dict(
        await pool.fetch("SELECT u.name, p.name FROM profiles p JOIN users u ON u.id = p.user_id")
    )
    members = [
        {"role": "HOST", "displayName": names["alice"]},
        {"role": "MEMBER", "displayName": names["bob"]},
    ]
    assert names["alice"] and names["bob"] and names["alice"] != names["bob"]
    assert joined.data["joinWatchParty"]["members"] == members
    assert events[0].data["watchPartyEvents"]["party"]["members"] == members
    assert current.data["watchPartyEvents"]["kind"] == "current"
    assert [e.data["watchPartyEvents"]["kind"] for e in events] == ["play", "message", "pause"]
    assert events[1].data["watchPartyEvents"]["message"] == {"body": "popcorn?"}
    start = datetime.datetime.fromisoformat(played.data["watchPartyCommand"]["stateChangedAt"])
    sent = datetime.datetime.fromisoformat(events[0].data["watchPartyEvents"]["serverTime"])
    assert played.data["watchPartyCommand"]["state"] == "PLAYING"
    assert start > sent  # the start is scheduled ahead, so every member can make it
    assert (
        events[0].data["watchPartyEvents"]["party"]["stateChangedAt"]
        == (played.data["watchPartyCommand"]["stateChangedAt"])
    )
    assert paused.data["watchPartyCommand"]["state"] == "PAUSED"


async def test_sync_hints_server_time_and_strangers(
    pool: asyncpg.Pool, execute: Execute, context: Callable[..., Context]
) -> None:
    item_id = await add_item(pool, await add_library(pool), "Film")
    created = (await execute(CREATE, item=str(item_id))).data["createWatchParty"]
    stranger = await make_viewer(pool, "stranger")

    report = await execute(REPORT, party=created["id"], at=0)
    clock = await execute("{ serverTime }")
    hidden = await execute(
        "query($id: ID!) { watchParty(id: $id) { id } }",
        context_value=context(principal=stranger.principal),
        id=created["id"],
    )
    stream = await schema.subscribe(
        EVENTS,
        variable_values={"party": created["id"]},
        context_value=context(principal=stranger.principal),
    )
    refused = [r async for r in stream] if hasattr(stream, "__aiter__") else [stream]
    wrong = await execute(JOIN, code="NOPE123456")

    assert report.data["reportWatchPartyPosition"] == {
        "driftMs": 0,
        "action": "none",
        "member": {"isReady": True, "latencyMs": 80},
    }
    now = datetime.datetime.now(datetime.UTC)
    served = datetime.datetime.fromisoformat(clock.data["serverTime"])
    assert abs((now - served).total_seconds()) < 5
    assert hidden.data["watchParty"] is None
    assert [(e.extensions or {}).get("code") for r in refused for e in r.errors or []] == [
        "NOT_FOUND"
    ]
    assert error_codes(wrong) == ["NOT_FOUND"]


READY = """mutation($party: ID!, $ready: Boolean!) {
  reportWatchPartyPosition(partyId: $party, positionMs: 0, isReady: $ready) {
    party { state playWhenReady waitDeadline members { isReady isOnline } }
  }
}"""


async def test_a_player_that_is_not_ready_holds_the_party(
    pool: asyncpg.Pool, execute: Execute, context: Callable[..., Context], bus: InProcessBus
) -> None:
    item_id = await add_item(pool, await add_library(pool), "Film")
    bob = await make_viewer(pool, "bob")
    as_bob = context(principal=bob.principal)
    created = (await execute(CREATE, item=str(item_id))).data["createWatchParty"]
    party_id = created["id"]
    await execute(JOIN, context_value=as_bob, code=created["inviteCode"])
    await execute(READY, party=party_id, ready=True)
    stream = await schema.subscribe(
        EVENTS, variable_values={"party": party_id}, context_value=context()
    )
    await anext(stream)
    while bus.subscriber_count(f"party:{party_id}") == 0:  # noqa: ASYNC110
        await asyncio.sleep(0.01)

    # The host presses play while bob's player is still loading: the party waits for him.
    played = await execute(COMMAND, party=party_id, command="PLAY")
    ready = await execute(READY, context_value=as_bob, party=party_id, ready=True)
    await asyncio.sleep(0.25)  # players report at most every 200 ms
    # Bob's buffer runs dry while everyone plays: he holds the party again.
    buffering = await execute(READY, context_value=as_bob, party=party_id, ready=False)
    events = [await asyncio.wait_for(anext(stream), 5) for _ in range(3)]
    await stream.aclose()

    waiting = played.data["watchPartyCommand"]
    assert waiting["state"] == "WAITING"
    sent = [
        (e.data["watchPartyEvents"]["kind"], e.data["watchPartyEvents"]["party"]["state"])
        for e in events
    ]
    assert sent == [("play", "WAITING"), ("resume", "PLAYING"), ("waiting", "WAITING")]
    assert ready.data["reportWatchPartyPosition"]["party"]["state"] == "PLAYING"
    held = buffering.data["reportWatchPartyPosition"]["party"]
    assert (held["state"], held["playWhenReady"]) == ("WAITING", True)
    deadline = datetime.datetime.fromisoformat(held["waitDeadline"])
    seconds = (deadline - datetime.datetime.now(datetime.UTC)).total_seconds()
    assert 10 < seconds <= 15  # the default ready timeout
    assert held["members"] == [
        {"isReady": True, "isOnline": True},
        {"isReady": False, "isOnline": True},
    ]


async def test_a_flood_of_commands_or_reports_is_rate_limited(
    pool: asyncpg.Pool, execute: Execute, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = await add_item(pool, await add_library(pool), "Film")
    party_id = (await execute(CREATE, item=str(item_id))).data["createWatchParty"]["id"]

    answers = [
        await execute(COMMAND, party=party_id, command="SEEK", at=1000 * n) for n in range(12)
    ]
    # The two reports 50 ms apart on the resolvers' clock, however slow this machine is.
    clock = {"at": datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)}
    monkeypatch.setattr(party_sync, "_now", lambda now: now if now is not None else clock["at"])
    reports = [await execute(REPORT, party=party_id, at=0)]
    clock["at"] += datetime.timedelta(milliseconds=50)
    reports.append(await execute(REPORT, party=party_id, at=0))
    monkeypatch.undo()

    codes = [error_codes(answer) for answer in answers]
    assert codes == [[]] * 10 + [["RATE_LIMITED"]] * 2
    assert error_codes(reports[0]) == [] and error_codes(reports[1]) == ["RATE_LIMITED"]
    still = await execute("query($id: ID!) { watchParty(id: $id) { positionMs } }", id=party_id)
    assert still.data["watchParty"] == {"positionMs": 9000}  # nothing of the refused ones
