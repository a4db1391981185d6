"""Catalog object types. Rows become types through ``from_row``; related objects load
through the request's batch loaders, so a page of items costs one statement per relation."""

from __future__ import annotations

import datetime
import posixpath
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NewType

import strawberry
from strawberry import Private

from loaders.context import Context
from resolvers.catalog.image_files import image_url
from resolvers.catalog.items import ItemPage, list_children
from resolvers.catalog.scans import FINISHED_SCAN_STATUSES
from subgraphs.catalog.enums import ImageType, LibraryKind, MediaKind, ScanStatus, StreamType
from subgraphs.catalog.permissions import administers_libraries
from subgraphs.catalog.prefetch import batched

__all__ = [
    "LONG_SCALAR",
    "Credit",
    "Genre",
    "Image",
    "Library",
    "LibraryScan",
    "Long",
    "MediaFile",
    "MediaItem",
    "MediaItemConnection",
    "MediaItemEdge",
    "MediaStream",
    "PageInfo",
    "Person",
    "ProviderId",
]

Info = strawberry.Info[Context, None]

Long = NewType("Long", int)
LONG_SCALAR = strawberry.scalar(
    name="Long",
    description="An integer that may exceed 32 bits (byte sizes); serialized as a JSON number.",
    serialize=int,
    parse_value=int,
)

_IMAGE_TYPES = {member.value for member in ImageType}
_STREAM_TYPES = {member.value for member in StreamType}


def _parse_reference_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@strawberry.federation.type(keys=["id"])
class Library:
    id: strawberry.ID
    name: str
    kind: LibraryKind
    last_scan_at: datetime.datetime | None
    created_at: datetime.datetime
    library_id: Private[uuid.UUID]
    folders: Private[list[str]]

    @classmethod
    def from_row(cls, row: Any) -> Library:
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            kind=LibraryKind(row["kind"]),
            last_scan_at=row["last_scan_at"],
            created_at=row["created_at"],
            library_id=row["id"],
            folders=list(row["root_paths"]),
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Library | None:
        library_id = _parse_reference_id(id)
        if library_id is None:
            return None
        row = await info.context.loaders.catalog.library_by_id.load(library_id)
        return cls.from_row(row) if row is not None else None

    @strawberry.field
    async def item_count(self, info: Info) -> int:
        """Top-level items: movies, series, artists and albums."""
        count: int = await info.context.loaders.catalog.item_count_by_library_id.load(
            self.library_id
        )
        return count

    @strawberry.field
    def root_paths(self, info: Info) -> list[str] | None:
        """The server folders the library is scanned from; null unless the caller administers
        libraries."""
        return self.folders if administers_libraries(info) else None

    @strawberry.field
    async def latest_scan(self, info: Info) -> LibraryScan | None:
        """The library's most recent scan, running or finished; null unless the caller
        administers libraries (its counts and paths cover items the caller may not see)."""
        if not administers_libraries(info):
            return None
        row = await info.context.loaders.catalog.latest_scan_by_library_id.load(self.library_id)
        return LibraryScan.from_row(row) if row is not None else None


@strawberry.type
class LibraryScan:
    id: strawberry.ID
    status: ScanStatus
    files_seen: int
    files_new: int
    files_changed: int
    files_moved: int
    files_removed: int
    files_failed: int
    current_path: str | None
    error: str | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    library_id: Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Any) -> LibraryScan:
        return cls(
            id=strawberry.ID(str(row["id"])),
            status=ScanStatus(row["status"]),
            files_seen=row["files_seen"],
            files_new=row["files_new"],
            files_changed=row["files_changed"],
            files_moved=row["files_moved"],
            files_removed=row["files_removed"],
            files_failed=row["files_failed"],
            current_path=row["current_path"],
            error=row["error"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            library_id=row["library_id"],
        )

    @strawberry.field
    def done(self) -> bool:
        """True once the scan completed, failed or was interrupted."""
        return self.status.value in FINISHED_SCAN_STATUSES

    @strawberry.field
    async def library(self, info: Info) -> Library | None:
        row = await info.context.loaders.catalog.library_by_id.load(self.library_id)
        return Library.from_row(row) if row is not None else None


@strawberry.type
class ProviderId:
    provider: str
    value: str


@strawberry.type
class Genre:
    id: strawberry.ID
    name: str

    @classmethod
    def from_row(cls, row: Any) -> Genre:
        return cls(id=strawberry.ID(str(row["id"])), name=row["name"])


@strawberry.type
class Person:
    id: strawberry.ID
    name: str


@strawberry.type
class Credit:
    person: Person
    role: str
    character: str | None
    order: int

    @classmethod
    def from_row(cls, row: Any) -> Credit:
        return cls(
            person=Person(id=strawberry.ID(str(row["person_id"])), name=row["person_name"]),
            role=row["role"],
            character=row["character"],
            order=row["sort_order"],
        )


@strawberry.type
class Image:
    id: strawberry.ID
    type: ImageType
    width: int | None
    height: int | None
    blurhash: str | None

    @classmethod
    def from_row(cls, row: Any) -> Image:
        return cls(
            id=strawberry.ID(str(row["id"])),
            type=ImageType(row["type"]),
            width=row["width"],
            height=row["height"],
            blurhash=row["blurhash"],
        )

    @strawberry.field
    def url(self, info: Info) -> str:
        """Where the image's bytes are served: a URL signed for the caller's profile (an
        `<img>` tag sends no credentials), valid for at least five hours and the same for an
        hour, so browsers keep their cached copy."""
        services = info.context.services
        return image_url(self.id, info.context.principal, services.get("stream_signer"))


@strawberry.type
class MediaStream:
    index: int
    type: StreamType
    codec: str | None
    profile: str | None
    level: int | None
    bit_depth: int | None
    width: int | None
    height: int | None
    frame_rate: float | None
    hdr_type: str | None
    channels: int | None
    channel_layout: str | None
    language: str | None
    title: str | None
    is_default: bool
    is_forced: bool
    is_hearing_impaired: bool
    is_external: bool
    bitrate: int | None

    @classmethod
    def from_row(cls, row: Any) -> MediaStream:
        kind = row["type"] if row["type"] in _STREAM_TYPES else "data"
        return cls(
            index=row["stream_index"],
            type=StreamType(kind),
            codec=row["codec"],
            profile=row["profile"],
            level=row["level"],
            bit_depth=row["bit_depth"],
            width=row["width"],
            height=row["height"],
            frame_rate=row["frame_rate"],
            hdr_type=row["hdr_type"],
            channels=row["channels"],
            channel_layout=row["channel_layout"],
            language=row["language"],
            title=row["title"],
            is_default=row["is_default"],
            is_forced=row["is_forced"],
            is_hearing_impaired=row["is_hearing_impaired"],
            is_external=row["is_external"],
            bitrate=row["bitrate"],
        )


@strawberry.type
class MediaFile:
    id: strawberry.ID
    file_name: str = strawberry.field(
        description="The file's name, without the server folders it sits in."
    )
    size: Long
    container: str | None
    duration_ms: int | None
    bitrate: int | None
    part_number: int | None
    version_name: str | None
    probe_error: str | None
    is_missing: bool
    file_id: Private[uuid.UUID]
    file_path: Private[str]

    @strawberry.field
    def path(self, info: Info) -> str | None:
        """Where the file is on the server; null unless the caller administers libraries (a
        path names the server's folders, and often its users)."""
        return self.file_path if administers_libraries(info) else None

    @classmethod
    def from_row(cls, row: Any) -> MediaFile:
        return cls(
            id=strawberry.ID(str(row["id"])),
            file_name=posixpath.basename(row["path"]),  # a file path never ends in "/"
            file_path=row["path"],
            size=row["size"],
            container=row["container"],
            duration_ms=row["duration_ms"],
            bitrate=row["bitrate"],
            part_number=row["part_number"],
            version_name=row["version_name"],
            probe_error=row["probe_error"],
            is_missing=row["is_missing"],
            file_id=row["id"],
        )

    @strawberry.field
    def streams(self, info: Info) -> list[MediaStream]:
        return batched(  # type: ignore[no-any-return]
            info.context.loaders.catalog.streams_by_file_id, self.file_id, _streams
        )


@strawberry.federation.type(keys=["id"])
class MediaItem:
    id: strawberry.ID
    kind: MediaKind
    title: str
    sort_title: str
    original_title: str | None
    year: int | None
    premiere_date: datetime.date | None
    overview: str | None
    runtime_ms: int | None
    official_rating: str | None
    season_number: int | None
    episode_number: int | None
    episode_number_end: int | None
    track_number: int | None
    disc_number: int | None
    album_artist: str | None
    extra_type: str | None
    is_missing: bool
    error: str | None
    date_added: datetime.datetime
    item_id: Private[uuid.UUID]
    library_id: Private[uuid.UUID]
    parent_id: Private[uuid.UUID | None]
    series_id: Private[uuid.UUID | None]
    provider_id_map: Private[dict[str, Any]]

    @classmethod
    def from_row(cls, row: Any) -> MediaItem:
        provider_ids = row["provider_ids"]
        return cls(
            id=strawberry.ID(str(row["id"])),
            kind=MediaKind(row["kind"]),
            title=row["title"],
            sort_title=row["sort_title"],
            original_title=row["original_title"],
            year=row["year"],
            premiere_date=row["premiere_date"],
            overview=row["overview"],
            runtime_ms=row["runtime_ms"],
            official_rating=row["official_rating"],
            season_number=row["season_number"],
            episode_number=row["episode_number"],
            episode_number_end=row["episode_number_end"],
            track_number=row["track_number"],
            disc_number=row["disc_number"],
            album_artist=row["album_artist"],
            extra_type=row["extra_type"],
            is_missing=row["is_missing"],
            error=row["error"],
            date_added=row["date_added"],
            item_id=row["id"],
            library_id=row["library_id"],
            parent_id=row["parent_id"],
            series_id=row["series_id"],
            provider_id_map=provider_ids if isinstance(provider_ids, dict) else {},
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> MediaItem | None:
        item_id = _parse_reference_id(id)
        if item_id is None:
            return None
        row = await info.context.loaders.catalog.media_item_by_id.load(item_id)
        return cls.from_row(row) if row is not None else None

    async def _item(self, info: Info, item_id: uuid.UUID | None) -> MediaItem | None:
        if item_id is None:
            return None
        row = await info.context.loaders.catalog.media_item_by_id.load(item_id)
        return MediaItem.from_row(row) if row is not None else None

    @strawberry.field
    async def library(self, info: Info) -> Library:
        row = await info.context.loaders.catalog.library_by_id.load(self.library_id)
        return Library.from_row(row)

    @strawberry.field
    async def parent(self, info: Info) -> MediaItem | None:
        return await self._item(info, self.parent_id)

    @strawberry.field
    async def series(self, info: Info) -> MediaItem | None:
        """The series an episode or season belongs to."""
        return await self._item(info, self.series_id)

    @strawberry.field
    async def season(self, info: Info) -> MediaItem | None:
        """The season an episode belongs to."""
        if self.kind is not MediaKind.EPISODE:
            return None
        parent = await self._item(info, self.parent_id)
        return parent if parent is not None and parent.kind is MediaKind.SEASON else None

    @strawberry.field
    async def children(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> MediaItemConnection:
        """Seasons, episodes, albums or tracks, in their natural order."""

        page = await list_children(
            info.context.pool,
            self.item_id,
            first=first,
            after=after,
            visibility=info.context.loaders.catalog.visibility,
        )
        return MediaItemConnection.from_page(page)

    @strawberry.field
    def provider_ids(self) -> list[ProviderId]:
        return [
            ProviderId(provider=str(provider), value=str(value))
            for provider, value in sorted(self.provider_id_map.items())
            if value is not None
        ]

    # Sync fields that read primed loaders (see prefetch.py) and await them otherwise.

    @strawberry.field
    def genres(self, info: Info) -> list[Genre]:
        return batched(  # type: ignore[no-any-return]
            info.context.loaders.catalog.genres_by_item_id, self.item_id, _genres
        )

    @strawberry.field
    def people(self, info: Info) -> list[Credit]:
        return batched(  # type: ignore[no-any-return]
            info.context.loaders.catalog.credits_by_item_id, self.item_id, _credits
        )

    @strawberry.field
    def images(self, info: Info) -> list[Image]:
        return batched(  # type: ignore[no-any-return]
            info.context.loaders.catalog.images_by_item_id, self.item_id, _images
        )

    @strawberry.field
    def files(self, info: Info) -> list[MediaFile]:
        return batched(  # type: ignore[no-any-return]
            info.context.loaders.catalog.files_by_item_id, self.item_id, _files
        )


def _streams(rows: list[Any]) -> list[MediaStream]:
    return [MediaStream.from_row(row) for row in rows]


def _genres(rows: list[Any]) -> list[Genre]:
    return [Genre.from_row(row) for row in rows]


def _credits(rows: list[Any]) -> list[Credit]:
    return [Credit.from_row(row) for row in rows]


def _images(rows: list[Any]) -> list[Image]:
    return [Image.from_row(row) for row in rows if row["type"] in _IMAGE_TYPES]


def _files(rows: list[Any]) -> list[MediaFile]:
    return [MediaFile.from_row(row) for row in rows]


@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class MediaItemEdge:
    cursor: str
    node: MediaItem


@strawberry.type
class MediaItemConnection:
    edges: list[MediaItemEdge]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    async def total_count(self) -> int:
        # Counted only when asked, concurrently with the page's other loads.
        return await self.count()

    @classmethod
    def from_page(cls, page: ItemPage) -> MediaItemConnection:
        return cls(
            count=page.count,
            edges=[
                MediaItemEdge(cursor=cursor, node=MediaItem.from_row(row))
                for row, cursor in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )

    @strawberry.field
    def nodes(self) -> list[MediaItem]:
        return [edge.node for edge in self.edges]
