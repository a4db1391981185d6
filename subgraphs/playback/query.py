"""Playback root query fields: what to watch next, as ``MediaItem`` stubs the catalog fills in."""

from __future__ import annotations

import strawberry

from infra.errors import Forbidden
from loaders.context import Context
from media.playback import BUILTIN_PROFILES
from resolvers.catalog.ids import parse_id
from resolvers.playback.devices import device_profiles
from resolvers.playback.history import resume_point, watch_history
from resolvers.playback.leases import StreamLimits, live_sessions
from resolvers.playback.user_data import continue_watching, next_up
from subgraphs.playback.history import ResumePoint, WatchHistoryConnection
from subgraphs.playback.parties import PartyQuery
from subgraphs.playback.permissions import require_viewer, visibility
from subgraphs.playback.types import (
    ActivePlaybackSession,
    DeviceProfile,
    MediaItem,
    StoredDeviceProfile,
)

__all__ = ["Query"]

Info = strawberry.Info[Context, None]


@strawberry.type
class Query(PartyQuery):
    @strawberry.field
    async def continue_watching(self, info: Info, first: int = 20) -> list[MediaItem]:
        viewer = await require_viewer(info, "read")
        ids = await continue_watching(info.context.pool, viewer.profile_id, visibility(info), first)
        return [MediaItem(id=strawberry.ID(str(i))) for i in ids]

    @strawberry.field
    async def next_up(self, info: Info, first: int = 20) -> list[MediaItem]:
        viewer = await require_viewer(info, "read")
        ids = await next_up(info.context.pool, viewer.profile_id, visibility(info), first)
        return [MediaItem(id=strawberry.ID(str(i))) for i in ids]

    @strawberry.field
    async def watch_history(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> WatchHistoryConnection:
        """Played and partly played items, most recently played first."""
        viewer = await require_viewer(info, "read")
        page = await watch_history(
            info.context.pool, viewer.profile_id, visibility(info), first, after
        )
        return WatchHistoryConnection.from_page(page)

    @strawberry.field
    async def resume(self, info: Info, series_id: strawberry.ID) -> ResumePoint | None:
        """Which episode of the series to play next, and from where."""
        viewer = await require_viewer(info, "read")
        point = await resume_point(
            info.context.pool, viewer.profile_id, visibility(info), parse_id(series_id, "seriesId")
        )
        return ResumePoint.from_row(point) if point is not None else None

    @strawberry.field
    async def device_profiles(self, info: Info) -> list[StoredDeviceProfile]:
        """Device profiles stored for the caller's devices."""
        viewer = await require_viewer(info, "read")
        stored = await device_profiles(info.context.pool, viewer.user_id)
        return [
            StoredDeviceProfile(
                device_id=entry.device_id,
                profile=DeviceProfile.from_profile(entry.profile),
                updated_at=entry.updated_at,
            )
            for entry in stored
        ]

    @strawberry.field
    def builtin_device_profiles(self) -> list[DeviceProfile]:
        """The built-in device profiles startPlayback knows by name."""
        return [DeviceProfile.from_profile(profile) for profile in BUILTIN_PROFILES.values()]

    @strawberry.field
    async def active_playback_sessions(
        self, info: Info, all_users: bool = False
    ) -> list[ActivePlaybackSession]:
        """Sessions playing now: the caller's profile's, or with allUsers every profile's of
        every account (administrators only)."""
        viewer = await require_viewer(info, "read")
        if all_users and not info.context.services["authz"].administers(info.context.principal):
            raise Forbidden("administrators only")
        limits: StreamLimits = info.context.services.get("stream_limits", StreamLimits())
        owner = None if all_users else (viewer.user_id, viewer.profile_id)
        rows = await live_sessions(info.context.pool, owner, limits.lease_seconds, visibility(info))
        return [ActivePlaybackSession.from_row(row) for row in rows]
