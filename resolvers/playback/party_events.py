"""Watch-party events on the bus (topic ``party:<id>``), carrying the party as it now is.

Every change (a member joins or leaves, a command, a role, a chat message) is published with the
whole party state, small at 50 members at most, so each subscriber on every replica renders the
event without asking the database: a command reaches fifty members as fifty socket writes, not
fifty queries.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.bus import EventBus, subscription
from infra.errors import Forbidden, NotFound
from resolvers.playback.parties import Party, PartyMember, PartyMessage, all_visible, party
from resolvers.playback.sessions import Viewer

__all__ = [
    "decode_party",
    "encode_party",
    "event_party",
    "member_party",
    "party_topic",
    "publish_party",
    "watch_party_events",
]


def party_topic(party_id: uuid.UUID) -> str:
    return f"party:{party_id}"


def _member(member: PartyMember) -> dict[str, Any]:
    return {
        "userId": str(member.user_id),
        "profileId": str(member.profile_id),
        "role": member.role,
        "isReady": member.is_ready,
        "positionMs": member.position_ms,
        "latencyMs": member.latency_ms,
        "lastSeenAt": member.last_seen_at.isoformat(),
        "joinedAt": member.joined_at.isoformat(),
        "displayName": member.display_name,
    }


def encode_party(found: Party) -> dict[str, Any]:
    return {
        "id": str(found.id),
        "hostUserId": str(found.host_user_id),
        "hostProfileId": str(found.host_profile_id),
        "itemId": str(found.item_id),
        "queue": [str(item) for item in found.queue],
        "inviteCode": found.invite_code,
        "codeExpiresAt": found.code_expires_at.isoformat(),
        "control": found.control,
        "state": found.state,
        "positionMs": found.position_ms,
        "stateChangedAt": found.state_changed_at.isoformat(),
        "endedAt": found.ended_at.isoformat() if found.ended_at else None,
        "createdAt": found.created_at.isoformat(),
        "members": [_member(member) for member in found.members],
        "playWhenReady": found.play_when_ready,
        "version": found.version,
        "waitDeadline": found.wait_deadline.isoformat() if found.wait_deadline else None,
    }


def decode_party(data: Mapping[str, Any]) -> Party:
    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return Party(
        id=uuid.UUID(data["id"]),
        host_user_id=uuid.UUID(data["hostUserId"]),
        host_profile_id=uuid.UUID(data["hostProfileId"]),
        item_id=uuid.UUID(data["itemId"]),
        queue=tuple(uuid.UUID(item) for item in data["queue"]),
        invite_code=data["inviteCode"],
        code_expires_at=datetime.fromisoformat(data["codeExpiresAt"]),
        control=data["control"],
        state=data["state"],
        position_ms=data["positionMs"],
        state_changed_at=datetime.fromisoformat(data["stateChangedAt"]),
        ended_at=when(data["endedAt"]),
        created_at=datetime.fromisoformat(data["createdAt"]),
        members=tuple(
            PartyMember(
                user_id=uuid.UUID(m["userId"]),
                profile_id=uuid.UUID(m["profileId"]),
                role=m["role"],
                is_ready=m["isReady"],
                position_ms=m["positionMs"],
                latency_ms=m["latencyMs"],
                last_seen_at=datetime.fromisoformat(m["lastSeenAt"]),
                joined_at=datetime.fromisoformat(m["joinedAt"]),
                display_name=m.get("displayName", ""),
            )
            for m in data["members"]
        ),
        play_when_ready=data["playWhenReady"],
        version=data["version"],
        wait_deadline=when(data["waitDeadline"]),
    )


async def publish_party(
    bus: EventBus, kind: str, found: Party, message: PartyMessage | None = None
) -> None:
    """``kind``: created, joined, left, role, play, pause, seek, next, waiting, resume,
    message."""
    event: dict[str, Any] = {"type": f"party.{kind}", "party": encode_party(found)}
    if message is not None:
        event["message"] = {
            "id": str(message.id),
            "userId": str(message.user_id),
            "profileId": str(message.profile_id),
            "body": message.body,
            "createdAt": message.created_at.isoformat(),
        }
    await bus.publish(party_topic(found.id), event)


async def member_party(pool: asyncpg.Pool, viewer: Viewer, party_id: uuid.UUID) -> Party:
    """The party, for a present member only (anyone else: NotFound, as if it did not exist)."""
    found = await party(pool, viewer, party_id)
    if found is None:
        raise NotFound("watch party not found", argument="partyId")
    return found


async def watch_party_events(
    pool: asyncpg.Pool, bus: EventBus, viewer: Viewer, visibility: VisibilityFilter, found: Party
) -> AsyncGenerator[Mapping[str, Any], None]:
    """The party as ``member_party`` found it (``party.current``), then every event while the
    viewer is a member. Events older than the newest state seen (by version) are dropped.

    Each event is authorized for this viewer before it goes out: it must still list them as a
    member, and when what it plays (or queues) has changed since the last event, all of it must
    be visible to their profile, checked again in the database, since ratings and parental
    limits can change while a party runs. An event about an item the profile may not see is
    never sent; the stream ends with FORBIDDEN instead.
    """
    me = (str(viewer.user_id), str(viewer.profile_id))
    checked = (found.item_id, *found.queue)
    newest = encode_party(found)
    async with subscription(bus, party_topic(found.id)) as events:
        yield {"type": "party.current", "party": newest}
        async for event in events:
            data = event["party"]
            if data["version"] < newest["version"]:
                # Replicas publish after their commits, so an older state can arrive after a
                # newer one: drop it, and let a chat message travel with the newest state.
                if "message" not in event:
                    continue
                event = {**event, "party": newest}
                data = newest
            newest = data
            if not any((m["userId"], m["profileId"]) == me for m in data["members"]):
                return  # that event said this viewer left: nothing more for them
            items = (uuid.UUID(data["itemId"]), *(uuid.UUID(item) for item in data["queue"]))
            if items != checked:  # what plays changed: ask again, the rating may have too
                async with pool.acquire() as conn:
                    if not await all_visible(conn, visibility, items):
                        raise Forbidden(
                            "this watch party moved on to something this profile may not see"
                        )
                checked = items
            yield event


# The bus hands one event object to every local subscriber of a party; the members' streams
# decode it once between them. Entries keep their event alive, so an id is never reused while
# it is a key here.
_DECODED: OrderedDict[int, tuple[Mapping[str, Any], Party]] = OrderedDict()
_DECODED_SIZE = 256


def event_party(data: Mapping[str, Any]) -> Party:
    """``decode_party(data)``, shared by every subscriber that got the same event object."""
    key = id(data)
    cached = _DECODED.get(key)
    if cached is not None and cached[0] is data:
        return cached[1]
    decoded = decode_party(data)
    _DECODED[key] = (data, decoded)
    if len(_DECODED) > _DECODED_SIZE:
        _DECODED.popitem(last=False)
    return decoded
