"""Catalog enums. Each value is the lowercase text the database stores."""

from __future__ import annotations

from enum import Enum

import strawberry

__all__ = [
    "ImageType",
    "ItemSort",
    "LibraryKind",
    "MediaKind",
    "ScanStatus",
    "SortDirection",
    "StreamType",
]


@strawberry.enum
class LibraryKind(Enum):
    MOVIES = "movies"
    TV = "tv"
    MUSIC = "music"


@strawberry.enum
class MediaKind(Enum):
    MOVIE = "movie"
    SERIES = "series"
    SEASON = "season"
    EPISODE = "episode"
    ARTIST = "artist"
    ALBUM = "album"
    TRACK = "track"
    AUDIOBOOK = "audiobook"
    BOOK = "book"
    PODCAST = "podcast"
    PODCAST_EPISODE = "podcast_episode"
    PHOTO = "photo"
    COMIC = "comic"
    VIDEO = "video"


@strawberry.enum
class ItemSort(Enum):
    TITLE = "title"
    DATE_ADDED = "date_added"
    YEAR = "year"
    PREMIERE_DATE = "premiere_date"
    RANDOM = "random"


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum
class StreamType(Enum):
    VIDEO = "video"
    AUDIO = "audio"
    SUBTITLE = "subtitle"
    ATTACHMENT = "attachment"
    DATA = "data"


@strawberry.enum
class ImageType(Enum):
    POSTER = "poster"
    BACKDROP = "backdrop"
    THUMB = "thumb"
    LOGO = "logo"
    BANNER = "banner"
    CLEARART = "clearart"
    DISC = "disc"


@strawberry.enum
class ScanStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
