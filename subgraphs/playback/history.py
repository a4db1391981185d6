"""Watch history as a connection, and a series' resume point."""

from __future__ import annotations

import strawberry

from resolvers.playback.history import HistoryPage
from resolvers.playback.history import ResumePoint as ResumeRow
from subgraphs.playback.types import MediaItem

__all__ = ["PageInfo", "ResumePoint", "WatchHistoryConnection", "WatchHistoryEdge"]


@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class WatchHistoryEdge:
    cursor: str
    node: MediaItem


@strawberry.type
class WatchHistoryConnection:
    total_count: int
    edges: list[WatchHistoryEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: HistoryPage) -> WatchHistoryConnection:
        return cls(
            total_count=page.total_count,
            edges=[
                WatchHistoryEdge(
                    cursor=entry.cursor, node=MediaItem(id=strawberry.ID(str(entry.item_id)))
                )
                for entry in page.entries
            ],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )


@strawberry.type(description="Which episode of a series to play next, and from where.")
class ResumePoint:
    item: MediaItem
    file_id: strawberry.ID | None = strawberry.field(
        description="The episode's first present file; null when none is on disk."
    )
    position_ms: int = strawberry.field(description="0: play from the beginning.")

    @classmethod
    def from_row(cls, row: ResumeRow) -> ResumePoint:
        return cls(
            item=MediaItem(id=strawberry.ID(str(row.item_id))),
            file_id=strawberry.ID(str(row.file_id)) if row.file_id is not None else None,
            position_ms=row.position_ms,
        )
