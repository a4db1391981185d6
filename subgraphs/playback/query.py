"""Playback root query fields: what to watch next, as ``MediaItem`` stubs the catalog fills in."""

from __future__ import annotations

import strawberry

from loaders.context import Context
from resolvers.catalog.ids import parse_id
from resolvers.playback.history import resume_point, watch_history
from resolvers.playback.user_data import continue_watching, next_up
from subgraphs.playback.history import ResumePoint, WatchHistoryConnection
from subgraphs.playback.permissions import require_viewer, visibility
from subgraphs.playback.types import MediaItem

__all__ = ["Query"]

Info = strawberry.Info[Context, None]


@strawberry.type
class Query:
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
