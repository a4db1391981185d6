"""Playback root query fields: what to watch next, as ``MediaItem`` stubs the catalog fills in."""

from __future__ import annotations

import strawberry

from resolvers.playback.user_data import continue_watching, next_up
from subgraphs.context import Context
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
