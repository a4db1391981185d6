"""Watch parties against real PostgreSQL: codes, visibility, control, queue, hand-over, chat."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from infra.authz.casbin_engine import ALL
from infra.authz.service import VisibilityFilter
from infra.errors import BadUserInput, Forbidden, NotFound, RateLimited
from loaders.visibility import EVERYTHING
from resolvers.playback import parties
from resolvers.playback.parties import (
    CODE_ALPHABET,
    CODE_LENGTH,
    MAX_MEMBERS,
    Party,
    create_party,
    join_party,
    leave_party,
    set_role,
)
from resolvers.playback.party_chat import post_message, recent_messages
from resolvers.playback.party_sync import (
    SyncHint,
    command,
    expected_position_ms,
    report_member,
    sync_hint,
)
from resolvers.playback.sessions import Viewer
from resolvers.user.accounts import create_user
from tests.support.catalog_rows import insert_item, insert_library

KIDS = VisibilityFilter(library_ids=ALL, max_rating_rank=10)
T0 = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)


async def make_viewer(pool: asyncpg.Pool, name: str) -> Viewer:
    async with pool.acquire() as conn:
        user = await create_user(conn, name, "a long enough password 1")
        profile_id = await conn.fetchval("SELECT id FROM profiles WHERE user_id = $1", user["id"])
    return Viewer(user["id"], profile_id)


async def add_profile(pool: asyncpg.Pool, viewer: Viewer, name: str) -> Viewer:
    profile_id = await pool.fetchval(
        "INSERT INTO profiles (user_id, name) VALUES ($1, $2) RETURNING id", viewer.user_id, name
    )
    return Viewer(viewer.user_id, profile_id)


async def add_items(
    pool: asyncpg.Pool, *titles: str, rating_rank: int | None = None
) -> list[uuid.UUID]:
    library_id = await insert_library(pool, name=f"Library {uuid.uuid4()}")
    return [
        await insert_item(
            pool, library_id, title, rating_rank=rating_rank, effective_rating_rank=rating_rank
        )
        for title in titles
    ]


async def start(
    pool: asyncpg.Pool, control: str = "host", queue_length: int = 0, *, ready: bool = True
) -> tuple[Party, Viewer, Viewer, list[uuid.UUID]]:
    """A party hosted by ann, with bob joined; both players ready at T0 unless ``ready`` is
    False."""
    ann = await make_viewer(pool, "ann")
    bob = await make_viewer(pool, "bob")
    items = await add_items(pool, *(f"Film {n}" for n in range(1 + queue_length)))
    created = await create_party(
        pool, ann, EVERYTHING, items[0], queue=items[1:], control=control, now=T0
    )
    joined = await join_party(pool, bob, EVERYTHING, created.invite_code, now=T0)
    if ready:
        await report_member(pool, ann, joined.id, 0, True, now=T0)
        joined = (await report_member(pool, bob, joined.id, 0, True, now=T0)).party
    return joined, ann, bob, items


def roles(party: Party) -> dict[uuid.UUID, str]:
    return {m.profile_id: m.role for m in party.members}


async def test_create_and_join_by_code(pool: asyncpg.Pool) -> None:
    ann = await make_viewer(pool, "ann")
    bob = await make_viewer(pool, "bob")
    (item,) = await add_items(pool, "Film")

    created = await create_party(pool, ann, EVERYTHING, item, now=T0)
    joined = await join_party(pool, bob, EVERYTHING, " " + created.invite_code.lower(), now=T0)

    assert len(created.invite_code) == CODE_LENGTH
    assert set(created.invite_code) <= set(CODE_ALPHABET)
    assert created.code_expires_at == T0 + timedelta(hours=24)
    assert (created.state, created.position_ms, created.control) == ("waiting", 0, "host")
    assert (created.host_user_id, created.item_id) == (ann.user_id, item)
    assert joined.id == created.id
    assert roles(joined) == {ann.profile_id: "host", bob.profile_id: "member"}
    assert await parties.party(pool, bob, created.id) == joined
    again = await join_party(pool, bob, EVERYTHING, created.invite_code, now=T0)
    assert again == joined


async def test_only_members_see_a_party(pool: asyncpg.Pool) -> None:
    joined, _, _, _ = await start(pool)
    eve = await make_viewer(pool, "eve")

    assert await parties.party(pool, eve, joined.id) is None
    assert await parties.party(pool, eve, uuid.uuid4()) is None
    with pytest.raises(NotFound):
        await command(pool, eve, joined.id, "play", now=T0)
    with pytest.raises(NotFound):
        await recent_messages(pool, eve, joined.id)


async def test_a_wrong_code_is_not_found(pool: asyncpg.Pool) -> None:
    bob = await make_viewer(pool, "bob")

    with pytest.raises(NotFound, match="no watch party has this invite code"):
        await join_party(pool, bob, EVERYTHING, "ZZZZZZZZZZ", now=T0)


async def test_an_expired_code_is_refused(pool: asyncpg.Pool) -> None:
    ann = await make_viewer(pool, "ann")
    bob = await make_viewer(pool, "bob")
    (item,) = await add_items(pool, "Film")
    created = await create_party(pool, ann, EVERYTHING, item, code_lifetime_seconds=600, now=T0)

    with pytest.raises(BadUserInput, match="expired"):
        await join_party(pool, bob, EVERYTHING, created.invite_code, now=T0 + timedelta(minutes=10))
    joined = await join_party(
        pool, bob, EVERYTHING, created.invite_code, now=T0 + timedelta(minutes=9)
    )
    assert len(joined.members) == 2


async def test_a_hidden_item_cannot_be_partied(pool: asyncpg.Pool) -> None:
    ann = await make_viewer(pool, "ann")
    kid = await add_profile(pool, ann, "kid")
    (adult,) = await add_items(pool, "Adult film", rating_rank=17)
    (family,) = await add_items(pool, "Family film", rating_rank=5)

    with pytest.raises(NotFound, match="item not found"):
        await create_party(pool, kid, KIDS, adult, now=T0)
    with pytest.raises(NotFound):
        await create_party(pool, kid, KIDS, family, queue=[adult], now=T0)
    with pytest.raises(NotFound):
        await create_party(pool, kid, VisibilityFilter(library_ids=frozenset()), family, now=T0)
    grown_up = await create_party(pool, ann, EVERYTHING, adult, now=T0)
    with pytest.raises(Forbidden):
        await join_party(pool, kid, KIDS, grown_up.invite_code, now=T0)
    kids_party = await create_party(pool, ann, EVERYTHING, family, now=T0)
    joined = await join_party(pool, kid, KIDS, kids_party.invite_code, now=T0)
    assert roles(joined) == {ann.profile_id: "host", kid.profile_id: "member"}


async def test_a_member_cannot_command_when_the_host_controls(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool, control="host")

    with pytest.raises(Forbidden):
        await command(pool, bob, joined.id, "play", now=T0)
    played = await command(pool, ann, joined.id, "play", now=T0)
    # Nobody reported a latency: the start is scheduled the minimum half second ahead.
    assert (played.state, played.position_ms, played.state_changed_at) == (
        "playing",
        0,
        T0 + timedelta(milliseconds=500),
    )


async def test_a_cohost_commands_when_hosts_control(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool, control="hosts")
    with pytest.raises(Forbidden):
        await command(pool, bob, joined.id, "play", now=T0)
    with pytest.raises(Forbidden, match="only the host"):
        await set_role(pool, bob, joined.id, bob.user_id, bob.profile_id, "cohost")

    promoted = await set_role(pool, ann, joined.id, bob.user_id, bob.profile_id, "cohost")
    played = await command(pool, bob, joined.id, "play", now=T0)

    assert roles(promoted)[bob.profile_id] == "cohost"
    assert played.state == "playing"


async def test_everyone_commands_when_everyone_controls(pool: asyncpg.Pool) -> None:
    joined, _, bob, _ = await start(pool, control="everyone")

    await command(pool, bob, joined.id, "play", now=T0)
    paused = await command(pool, bob, joined.id, "pause", now=T0 + timedelta(seconds=90))
    sought = await command(
        pool, bob, joined.id, "seek", position_ms=600_000, now=T0 + timedelta(seconds=100)
    )

    assert (paused.state, paused.position_ms) == ("paused", 89_500)  # started 0.5 s after T0
    assert (sought.state, sought.position_ms) == ("paused", 600_000)
    assert sought.state_changed_at == T0 + timedelta(seconds=100)


async def test_expected_position_runs_while_playing(pool: asyncpg.Pool) -> None:
    joined, ann, _, _ = await start(pool)
    played = await command(pool, ann, joined.id, "seek", position_ms=5_000, now=T0)
    played = await command(pool, ann, joined.id, "play", now=T0)

    assert expected_position_ms(played, T0 + timedelta(seconds=3)) == 7_500  # started at +0.5 s
    assert expected_position_ms(played, T0 + timedelta(milliseconds=200)) == 5_000  # not yet
    paused = await command(pool, ann, joined.id, "pause", now=T0 + timedelta(seconds=3))
    assert expected_position_ms(paused, T0 + timedelta(hours=1)) == 7_500


async def test_a_start_waits_for_the_slowest_member_and_drift_gets_a_hint(
    pool: asyncpg.Pool,
) -> None:
    joined, ann, bob, _ = await start(pool, ready=False)
    await report_member(pool, bob, joined.id, 0, True, now=T0, latency_ms=400)
    await report_member(pool, ann, joined.id, 0, True, now=T0, latency_ms=120)

    played = await command(pool, ann, joined.id, "play", now=T0)
    at = T0 + timedelta(seconds=10)

    assert played.state_changed_at == T0 + timedelta(milliseconds=800)  # 2 x the slowest 400
    assert sync_hint(played, 9_200, at) == SyncHint(0, "none", 1.0, None)
    small = sync_hint(played, 9_400, at)
    assert (small.drift_ms, small.action, small.rate) == (200, "rate", 0.98)
    assert sync_hint(played, 8_000, at) == SyncHint(-1_200, "seek", 1.0, 9_200)
    with pytest.raises(BadUserInput):
        await report_member(pool, bob, joined.id, 0, True, now=T0, latency_ms=-1)


async def test_bad_commands_are_refused(pool: asyncpg.Pool) -> None:
    joined, ann, _, _ = await start(pool)

    with pytest.raises(BadUserInput):
        await command(pool, ann, joined.id, "rewind", now=T0)
    with pytest.raises(BadUserInput):
        await command(pool, ann, joined.id, "seek", now=T0)
    with pytest.raises(BadUserInput):
        await command(pool, ann, joined.id, "seek", position_ms=-1, now=T0)


async def test_next_goes_through_the_queue_to_the_end(pool: asyncpg.Pool) -> None:
    joined, ann, bob, items = await start(pool, queue_length=2)
    await command(pool, ann, joined.id, "play", now=T0)
    await report_member(pool, bob, joined.id, 30_000, True, now=T0 + timedelta(seconds=30))

    second = await command(pool, ann, joined.id, "next", now=T0 + timedelta(minutes=1))
    third = await command(pool, ann, joined.id, "next", now=T0 + timedelta(minutes=2))
    ended = await command(pool, ann, joined.id, "next", now=T0 + timedelta(minutes=3))

    assert (second.item_id, second.queue, second.state, second.position_ms) == (
        items[1],
        (items[2],),
        "waiting",
        0,
    )
    assert [(m.is_ready, m.position_ms) for m in second.members] == [(False, 0), (False, 0)]
    assert (third.item_id, third.queue) == (items[2], ())
    assert (ended.state, ended.ended_at) == ("ended", T0 + timedelta(minutes=3))
    with pytest.raises(BadUserInput, match="ended"):
        await command(pool, ann, joined.id, "play", now=T0)
    carol = await make_viewer(pool, "carol")
    with pytest.raises(BadUserInput, match="ended"):
        await join_party(pool, carol, EVERYTHING, joined.invite_code, now=T0)


async def test_report_member_updates_position_and_ready(pool: asyncpg.Pool) -> None:
    joined, _, bob, _ = await start(pool)
    seen = T0 + timedelta(seconds=5)

    member = (await report_member(pool, bob, joined.id, 4_000, True, now=seen)).member

    assert (member.position_ms, member.is_ready, member.last_seen_at) == (4_000, True, seen)
    eve = await make_viewer(pool, "eve")
    with pytest.raises(NotFound):
        await report_member(pool, eve, joined.id, 0, True)


async def test_the_host_leaving_hands_over(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)
    carol = await make_viewer(pool, "carol")
    await join_party(pool, carol, EVERYTHING, joined.invite_code, now=T0 + timedelta(seconds=1))
    await set_role(pool, ann, joined.id, carol.user_id, carol.profile_id, "cohost")

    await leave_party(pool, ann, joined.id)
    after = await parties.party(pool, bob, joined.id)

    assert after is not None
    assert roles(after) == {bob.profile_id: "member", carol.profile_id: "host"}
    assert (after.host_user_id, after.host_profile_id) == (carol.user_id, carol.profile_id)
    assert await parties.party(pool, ann, joined.id) is None

    await leave_party(pool, carol, joined.id)
    last = await parties.party(pool, bob, joined.id)
    assert last is not None
    assert roles(last) == {bob.profile_id: "host"}


async def test_the_host_hands_over_by_role(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)

    handed = await set_role(pool, ann, joined.id, bob.user_id, bob.profile_id, "host")

    assert roles(handed) == {ann.profile_id: "cohost", bob.profile_id: "host"}
    assert handed.host_user_id == bob.user_id
    with pytest.raises(BadUserInput):
        await set_role(pool, bob, joined.id, bob.user_id, bob.profile_id, "member")


async def test_the_last_one_leaving_ends_the_party(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)

    await leave_party(pool, ann, joined.id, now=T0)
    await leave_party(pool, bob, joined.id, now=T0 + timedelta(seconds=1))

    row = await pool.fetchrow("SELECT state, ended_at FROM watch_parties WHERE id = $1", joined.id)
    assert (row["state"], row["ended_at"]) == ("ended", T0 + timedelta(seconds=1))
    with pytest.raises(NotFound):
        await leave_party(pool, bob, joined.id)


async def test_rejoining_after_leaving_works(pool: asyncpg.Pool) -> None:
    joined, _, bob, _ = await start(pool)
    await report_member(pool, bob, joined.id, 9_000, True)

    await leave_party(pool, bob, joined.id)
    back = await join_party(pool, bob, EVERYTHING, joined.invite_code, now=T0 + timedelta(hours=1))

    (member,) = [m for m in back.members if m.profile_id == bob.profile_id]
    assert (member.role, member.is_ready, member.position_ms) == ("member", False, 0)
    assert member.joined_at == T0 + timedelta(hours=1)


async def test_a_party_holds_at_most_fifty_members(pool: asyncpg.Pool) -> None:
    joined, ann, _, _ = await start(pool)
    household = await make_viewer(pool, "household")
    for n in range(MAX_MEMBERS - 2):
        guest = await add_profile(pool, household, f"guest {n}")
        await join_party(pool, guest, EVERYTHING, joined.invite_code, now=T0)
    one_too_many = await add_profile(pool, household, "one too many")

    with pytest.raises(BadUserInput, match="full"):
        await join_party(pool, one_too_many, EVERYTHING, joined.invite_code, now=T0)
    full = await parties.party(pool, ann, joined.id)
    assert full is not None
    assert len(full.members) == MAX_MEMBERS


async def test_chat_trims_and_checks_length(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)

    message = await post_message(pool, ann, joined.id, "  hello there \n")

    assert (message.body, message.user_id, message.party_id) == (
        "hello there",
        ann.user_id,
        joined.id,
    )
    with pytest.raises(BadUserInput):
        await post_message(pool, bob, joined.id, "   ")
    with pytest.raises(BadUserInput):
        await post_message(pool, bob, joined.id, "x" * 501)
    assert (await post_message(pool, bob, joined.id, "x" * 500)).body == "x" * 500
    eve = await make_viewer(pool, "eve")
    with pytest.raises(NotFound):
        await post_message(pool, eve, joined.id, "let me in")


async def test_chat_is_rate_limited_per_member(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)
    for n in range(5):
        await post_message(pool, ann, joined.id, f"message {n}")

    with pytest.raises(RateLimited):
        await post_message(pool, ann, joined.id, "one too many")
    assert (await post_message(pool, bob, joined.id, "bob may still talk")).user_id == bob.user_id
    await pool.execute(
        "UPDATE watch_party_messages SET created_at = created_at - interval '11 seconds' "
        "WHERE user_id = $1",
        ann.user_id,
    )
    assert (await post_message(pool, ann, joined.id, "later")).body == "later"


async def test_recent_messages_come_oldest_first(pool: asyncpg.Pool) -> None:
    joined, ann, bob, _ = await start(pool)
    assert await recent_messages(pool, bob, joined.id) == []
    for n in range(4):
        await post_message(pool, ann if n % 2 == 0 else bob, joined.id, f"message {n}")

    everything = await recent_messages(pool, bob, joined.id)
    newest = await recent_messages(pool, bob, joined.id, limit=2)

    assert [m.body for m in everything] == [f"message {n}" for n in range(4)]
    assert [m.body for m in newest] == ["message 2", "message 3"]
    with pytest.raises(BadUserInput):
        await recent_messages(pool, bob, joined.id, limit=0)
