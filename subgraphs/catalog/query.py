"""Catalog root query fields: read the context, call a resolver, map rows to types."""

from __future__ import annotations

import strawberry

from loaders.context import Context
from resolvers.catalog.ids import parse_id
from resolvers.catalog.items import ItemFilter, list_items
from resolvers.catalog.libraries import list_genres, list_libraries
from resolvers.catalog.search import search_items
from subgraphs.catalog.enums import ItemSort, MediaKind, SortDirection
from subgraphs.catalog.permissions import require_reader
from subgraphs.catalog.prefetch import prefetch_items, selected_under
from subgraphs.catalog.types import Genre, Library, MediaItem, MediaItemConnection

__all__ = ["Query"]

Info = strawberry.Info[Context, None]


async def _prefetch_page(info: Info, items: list[MediaItem]) -> None:
    """Prime the relations the operation selects on the page's items (edges.node or nodes)."""
    wanted = selected_under(info.selected_fields, "items", "edges", "node")
    for name, selections in selected_under(info.selected_fields, "items", "nodes").items():
        wanted.setdefault(name, []).extend(selections)
    await prefetch_items(info.context.loaders.catalog, [i.item_id for i in items], wanted)


@strawberry.type
class Query:
    @strawberry.field
    async def libraries(self, info: Info) -> list[Library]:
        rows = await list_libraries(info.context.pool, require_reader(info))
        return [Library.from_row(row) for row in rows]

    @strawberry.field
    async def library(self, info: Info, id: strawberry.ID) -> Library | None:
        require_reader(info)
        row = await info.context.loaders.catalog.library_by_id.load(parse_id(id))
        return Library.from_row(row) if row is not None else None

    @strawberry.field
    async def item(self, info: Info, id: strawberry.ID) -> MediaItem | None:
        require_reader(info)
        row = await info.context.loaders.catalog.media_item_by_id.load(parse_id(id))
        return MediaItem.from_row(row) if row is not None else None

    @strawberry.field
    async def items(
        self,
        info: Info,
        library_id: strawberry.ID | None = None,
        kinds: list[MediaKind] | None = None,
        parent_id: strawberry.ID | None = None,
        year_from: int | None = None,
        year_to: int | None = None,
        genre: str | None = None,
        text: str | None = None,
        include_missing: bool = False,
        include_extras: bool = False,
        sort: ItemSort = ItemSort.TITLE,
        direction: SortDirection = SortDirection.ASC,
        first: int = 50,
        after: str | None = None,
    ) -> MediaItemConnection:
        """A page of items (extras only with includeExtras); keyset cursors."""

        visibility = require_reader(info)
        item_filter = ItemFilter(
            visibility=visibility,
            library_id=parse_id(library_id, "libraryId") if library_id is not None else None,
            kinds=[kind.value for kind in kinds] if kinds else None,
            parent_id=parse_id(parent_id, "parentId") if parent_id is not None else None,
            year_from=year_from,
            year_to=year_to,
            genre=genre,
            text=text,
            include_missing=include_missing,
            include_extras=include_extras,
        )
        page = await list_items(
            info.context.pool,
            item_filter,
            sort=sort.value,
            direction=direction.value,
            first=first,
            after=after,
        )
        connection = MediaItemConnection.from_page(page)
        await _prefetch_page(info, [edge.node for edge in connection.edges])
        return connection

    @strawberry.field
    async def search(self, info: Info, query: str, first: int = 20) -> list[MediaItem]:
        """Items whose titles, people or genres start with the words."""
        rows = await search_items(info.context.pool, query, first, require_reader(info))
        return [MediaItem.from_row(row) for row in rows]

    @strawberry.field
    async def genres(self, info: Info, library_id: strawberry.ID | None = None) -> list[Genre]:
        library = parse_id(library_id, "libraryId") if library_id is not None else None
        rows = await list_genres(info.context.pool, library, require_reader(info))
        return [Genre.from_row(row) for row in rows]
