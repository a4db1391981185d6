"""Watch parties in the playback subgraph: the types, and the root fields that Query, Mutation
and Subscription take in (``PartyQuery``, ``PartyMutation``, ``PartySubscription``)."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import AsyncGenerator
from enum import Enum

import strawberry

from loaders.context import Context
from resolvers.catalog.ids import parse_id
from resolvers.playback import parties as resolvers
from resolvers.playback import party_chat, party_sync
from resolvers.playback.party_events import (
    event_party,
    member_party,
    publish_party,
    watch_party_events,
)
from subgraphs.playback.permissions import require_viewer, visibility
from subgraphs.playback.types import MediaItem

__all__ = ["PartyMutation", "PartyQuery", "PartySubscription", "WatchParty"]

Info = strawberry.Info[Context, None]


@strawberry.enum
class PartyControl(Enum):
    HOST = "host"
    HOSTS = "hosts"
    EVERYONE = "everyone"


@strawberry.enum
class PartyState(Enum):
    WAITING = "waiting"
    PLAYING = "playing"
    PAUSED = "paused"
    ENDED = "ended"


@strawberry.enum
class PartyRole(Enum):
    HOST = "host"
    COHOST = "cohost"
    MEMBER = "member"


@strawberry.enum
class PartyCommand(Enum):
    PLAY = "play"
    PAUSE = "pause"
    SEEK = "seek"
    NEXT = "next"


@strawberry.type
class PartyMember:
    user_id: strawberry.ID
    profile_id: strawberry.ID
    display_name: str = strawberry.field(
        description="The member's profile name when they joined, as the other members see it."
    )
    role: PartyRole
    is_ready: bool
    position_ms: int
    latency_ms: int | None
    last_seen_at: datetime.datetime
    is_online: bool = strawberry.field(
        description="The member's player reported within the last 30 seconds."
    )

    @classmethod
    def of(cls, member: resolvers.PartyMember, at: datetime.datetime) -> PartyMember:
        return cls(
            is_online=member.is_online(at),
            user_id=strawberry.ID(str(member.user_id)),
            profile_id=strawberry.ID(str(member.profile_id)),
            display_name=member.display_name,
            role=PartyRole(member.role),
            is_ready=member.is_ready,
            position_ms=member.position_ms,
            latency_ms=member.latency_ms,
            last_seen_at=member.last_seen_at,
        )


@strawberry.type(description="A group watching together; members only see it.")
class WatchParty:
    """Fields are read from the party as it was found or as an event carried it; a
    subscription's fan-out builds only what its members selected."""

    found: strawberry.Private[resolvers.Party]

    @classmethod
    def of(cls, found: resolvers.Party) -> WatchParty:
        return cls(found=found)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.found.id))

    @strawberry.field
    def item(self) -> MediaItem:
        return MediaItem(id=strawberry.ID(str(self.found.item_id)))

    @strawberry.field
    def queue(self) -> list[MediaItem]:
        return [MediaItem(id=strawberry.ID(str(item))) for item in self.found.queue]

    @strawberry.field
    def invite_code(self) -> str:
        return self.found.invite_code

    @strawberry.field
    def code_expires_at(self) -> datetime.datetime:
        return self.found.code_expires_at

    @strawberry.field
    def control(self) -> PartyControl:
        return PartyControl(self.found.control)

    @strawberry.field
    def state(self) -> PartyState:
        return PartyState(self.found.state)

    position_ms: int = strawberry.field(
        resolver=lambda root: root.found.position_ms,
        description="The position at stateChangedAt; while playing, it runs on from there.",
    )

    state_changed_at: datetime.datetime = strawberry.field(
        resolver=lambda root: root.found.state_changed_at,
        description="Server time; a scheduled start lies in the future.",
    )

    @strawberry.field
    def ended_at(self) -> datetime.datetime | None:
        return self.found.ended_at

    @strawberry.field
    def members(self) -> list[PartyMember]:
        at = _now()
        return [PartyMember.of(member, at) for member in self.found.members]

    play_when_ready: bool = strawberry.field(
        resolver=lambda root: root.found.play_when_ready,
        description="While WAITING: the party starts by itself once every online member is "
        "ready, or at waitDeadline.",
    )

    @strawberry.field
    def wait_deadline(self) -> datetime.datetime | None:
        return self.found.wait_deadline

    version: int = strawberry.field(
        resolver=lambda root: root.found.version,
        description="Grows with every change, in the order the changes happened: a client "
        "keeps the party state with the highest version it has seen.",
    )


@strawberry.type
class PartyMessage:
    id: strawberry.ID
    user_id: strawberry.ID
    profile_id: strawberry.ID
    body: str
    created_at: datetime.datetime

    @classmethod
    def of(cls, message: resolvers.PartyMessage) -> PartyMessage:
        return cls(
            id=strawberry.ID(str(message.id)),
            user_id=strawberry.ID(str(message.user_id)),
            profile_id=strawberry.ID(str(message.profile_id)),
            body=message.body,
            created_at=message.created_at,
        )


@strawberry.type(description="What a member's player should do to stay with the party.")
class PartySync:
    member: PartyMember
    party: WatchParty
    drift_ms: int
    action: str = strawberry.field(description="none, rate or seek")
    rate: float
    seek_to_ms: int | None
    server_time: datetime.datetime


@strawberry.type
class PartyEvent:
    kind: str = strawberry.field(
        description="current, created, joined, left, role, play, pause, seek, next, message; "
        "waiting (a member's player holds the party) and resume (the wait is over)"
    )
    party: WatchParty
    message: PartyMessage | None
    server_time: datetime.datetime


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _ready_timeout(info: Info) -> datetime.timedelta:
    return datetime.timedelta(seconds=info.context.settings.party_ready_timeout_seconds)


@strawberry.type
class PartyQuery:
    @strawberry.field
    async def watch_party(self, info: Info, id: strawberry.ID) -> WatchParty | None:
        """A party the caller is a member of."""
        viewer = await require_viewer(info, "read")
        found = await resolvers.party(info.context.pool, viewer, parse_id(id, "id"))
        return WatchParty.of(found) if found is not None else None

    @strawberry.field
    async def watch_party_messages(
        self, info: Info, party_id: strawberry.ID, last: int = 50
    ) -> list[PartyMessage]:
        """The party's latest chat, oldest first (for members joining late)."""
        viewer = await require_viewer(info, "read")
        messages = await party_chat.recent_messages(
            info.context.pool, viewer, parse_id(party_id, "partyId"), last
        )
        return [PartyMessage.of(message) for message in messages]

    @strawberry.field
    def server_time(self) -> datetime.datetime:
        """The server clock, for clients to compute their offset to it."""
        return _now()


@strawberry.type
class PartyMutation:
    @strawberry.mutation
    async def create_watch_party(
        self,
        info: Info,
        item_id: strawberry.ID,
        queue: list[strawberry.ID] | None = None,
        control: PartyControl = PartyControl.HOST,
    ) -> WatchParty:
        viewer = await require_viewer(info)
        found = await resolvers.create_party(
            info.context.pool,
            viewer,
            visibility(info),
            parse_id(item_id, "itemId"),
            queue=tuple(parse_id(item, "queue") for item in queue or ()),
            control=control.value,
        )
        await publish_party(info.context.bus, "created", found)
        return WatchParty.of(found)

    @strawberry.mutation
    async def join_watch_party(self, info: Info, code: str) -> WatchParty:
        viewer = await require_viewer(info)
        found = await resolvers.join_party(info.context.pool, viewer, visibility(info), code)
        await publish_party(info.context.bus, "joined", found)
        return WatchParty.of(found)

    @strawberry.mutation
    async def leave_watch_party(self, info: Info, party_id: strawberry.ID) -> bool:
        viewer = await require_viewer(info)
        parsed = parse_id(party_id, "partyId")
        left = await resolvers.leave_party(info.context.pool, viewer, parsed)
        await publish_party(info.context.bus, "left", left)
        return True

    @strawberry.mutation
    async def set_watch_party_role(
        self,
        info: Info,
        party_id: strawberry.ID,
        user_id: strawberry.ID,
        profile_id: strawberry.ID,
        role: PartyRole,
    ) -> WatchParty:
        viewer = await require_viewer(info)
        found = await resolvers.set_role(
            info.context.pool,
            viewer,
            parse_id(party_id, "partyId"),
            parse_id(user_id, "userId"),
            parse_id(profile_id, "profileId"),
            role.value,
        )
        await publish_party(info.context.bus, "role", found)
        return WatchParty.of(found)

    @strawberry.mutation
    async def watch_party_command(
        self,
        info: Info,
        party_id: strawberry.ID,
        command: PartyCommand,
        position_ms: int | None = None,
    ) -> WatchParty:
        """Play (scheduled at a server time all members reach), pause, seek or next."""
        viewer = await require_viewer(info)
        found = await party_sync.command(
            info.context.pool,
            viewer,
            parse_id(party_id, "partyId"),
            command.value,
            position_ms=position_ms,
            ready_timeout=_ready_timeout(info),
        )
        await publish_party(info.context.bus, command.value, found)
        return WatchParty.of(found)

    @strawberry.mutation
    async def report_watch_party_position(
        self,
        info: Info,
        party_id: strawberry.ID,
        position_ms: int,
        is_ready: bool,
        latency_ms: int | None = None,
    ) -> PartySync:
        """A member's heartbeat: position, readiness, round trip; answers how to stay in step."""
        viewer = await require_viewer(info)
        parsed = parse_id(party_id, "partyId")
        now = _now()
        report = await party_sync.report_member(
            info.context.pool,
            viewer,
            parsed,
            position_ms,
            is_ready,
            now,
            latency_ms,
            ready_timeout=_ready_timeout(info),
        )
        if report.change is not None:
            await publish_party(info.context.bus, report.change, report.party)
        hint = party_sync.sync_hint(report.party, position_ms, now)
        return PartySync(
            member=PartyMember.of(report.member, now),
            party=WatchParty.of(report.party),
            drift_ms=hint.drift_ms,
            action=hint.action,
            rate=hint.rate,
            seek_to_ms=hint.seek_to_ms,
            server_time=now,
        )

    @strawberry.mutation
    async def send_watch_party_message(
        self, info: Info, party_id: strawberry.ID, body: str
    ) -> PartyMessage:
        viewer = await require_viewer(info)
        parsed = parse_id(party_id, "partyId")
        message = await party_chat.post_message(info.context.pool, viewer, parsed, body)
        found = await resolvers.party(info.context.pool, viewer, parsed)
        if found is not None:
            await publish_party(info.context.bus, "message", found, message)
        return PartyMessage.of(message)


@strawberry.type
class PartySubscription:
    @strawberry.subscription
    async def watch_party_events(
        self, info: Info, party_id: strawberry.ID
    ) -> AsyncGenerator[PartyEvent, None]:
        """The party now, then every change and chat message, while the caller is a member."""
        viewer = await require_viewer(info, "read")
        found = await member_party(info.context.pool, viewer, parse_id(party_id, "partyId"))
        events = watch_party_events(
            info.context.pool, info.context.bus, viewer, visibility(info), found
        )
        async with contextlib.aclosing(events):
            async for event in events:
                message = event.get("message")
                yield PartyEvent(
                    kind=event["type"].removeprefix("party."),
                    party=WatchParty.of(event_party(event["party"])),
                    message=(
                        PartyMessage(
                            id=strawberry.ID(message["id"]),
                            user_id=strawberry.ID(message["userId"]),
                            profile_id=strawberry.ID(message["profileId"]),
                            body=message["body"],
                            created_at=datetime.datetime.fromisoformat(message["createdAt"]),
                        )
                        if message
                        else None
                    ),
                    server_time=_now(),
                )
