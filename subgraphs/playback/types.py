"""Playback object types, and the catalog's ``MediaItem`` entity extended with ``userData``."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import strawberry

from loaders.context import Context
from loaders.playback import UserDataByItemIdLoader
from subgraphs.playback.enums import PlaybackMethod
from subgraphs.playback.permissions import require_viewer

__all__ = ["MediaItem", "PlaybackDecision", "PlaybackSession", "UserData"]

Info = strawberry.Info[Context, None]

_LOADER_KEY = "playback.user_data_by_item_id"


@strawberry.type
class UserData:
    position_ms: int
    is_played: bool
    play_count: int
    last_played_at: datetime.datetime | None
    is_favorite: bool
    rating: float | None

    @classmethod
    def from_row(cls, row: Any) -> UserData:
        return cls(
            position_ms=row["position_ms"],
            is_played=row["is_played"],
            play_count=row["play_count"],
            last_played_at=row["last_played_at"],
            is_favorite=row["is_favorite"],
            rating=row["rating"],
        )


async def user_data_loader(info: Info) -> UserDataByItemIdLoader:
    """The request's loader for the caller's profile (built on first use)."""
    state = info.context.state
    loader: UserDataByItemIdLoader | None = state.get(_LOADER_KEY)
    if loader is None:
        viewer = await require_viewer(info, "read")
        loader = state[_LOADER_KEY] = UserDataByItemIdLoader(info.context.pool, viewer.profile_id)
    return loader


@strawberry.federation.type(keys=["id"])
class MediaItem:
    id: strawberry.ID

    @classmethod
    async def resolve_reference(cls, id: strawberry.ID) -> MediaItem:
        # The catalog already decided the item is visible; the key is all this subgraph needs.
        return cls(id=id)

    @strawberry.field
    async def user_data(self, info: Info) -> UserData | None:
        if not info.context.principal.is_authenticated:
            return None
        try:
            item_id = uuid.UUID(str(self.id))
        except ValueError:
            return None
        row = await (await user_data_loader(info)).load(item_id)
        return UserData.from_row(row) if row is not None else None


@strawberry.type
class PlaybackDecision:
    method: PlaybackMethod
    reasons: list[str]


@strawberry.type
class PlaybackSession:
    id: strawberry.ID
    stream_url: str
    decision: PlaybackDecision
    position_ms: int
    expires_at: datetime.datetime


@strawberry.type
class PlaybackProgress:
    session_id: strawberry.ID
    resume_position_ms: int = strawberry.field(
        description="The stored resume position (0: not resumable, start over)."
    )
    is_played: bool
    is_paused: bool


@strawberry.type
class StopPlaybackPayload:
    session_id: strawberry.ID
