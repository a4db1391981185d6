"""Catalog subscriptions: live progress of library scans."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry

from infra.errors import NotFound
from loaders.context import Context
from resolvers.catalog.ids import parse_id
from resolvers.catalog.scans import watch_library_scan
from subgraphs.catalog.permissions import require_admin
from subgraphs.catalog.types import LibraryScan

__all__ = ["Subscription"]

Info = strawberry.Info[Context, None]


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def library_scan(
        self, info: Info, library_id: strawberry.ID
    ) -> AsyncGenerator[LibraryScan, None]:
        """The library's current scan, then each change until a scan finishes."""

        await require_admin(info)
        library = parse_id(library_id, "libraryId")
        if await info.context.loaders.catalog.library_by_id.load(library) is None:
            raise NotFound("no library has this id", argument="libraryId")
        scans = watch_library_scan(info.context.pool, info.context.bus, library)
        async with contextlib.aclosing(scans):
            async for row in scans:
                yield LibraryScan.from_row(row)
