"""The catalog mutations' error type: expected failures are part of the schema."""

from __future__ import annotations

from enum import Enum

import strawberry

__all__ = ["LibraryError", "LibraryErrorCode"]


@strawberry.enum
class LibraryErrorCode(Enum):
    NAME_TAKEN = "NAME_TAKEN"
    INVALID_NAME = "INVALID_NAME"
    NO_PATHS = "NO_PATHS"
    PATH_NOT_FOUND = "PATH_NOT_FOUND"
    PATH_NOT_DIRECTORY = "PATH_NOT_DIRECTORY"
    PATH_NOT_READABLE = "PATH_NOT_READABLE"
    PATH_NOT_ABSOLUTE = "PATH_NOT_ABSOLUTE"
    PATH_NOT_ALLOWED = "PATH_NOT_ALLOWED"
    NOT_FOUND = "NOT_FOUND"
    SCAN_RUNNING = "SCAN_RUNNING"


@strawberry.type
class LibraryError:
    code: LibraryErrorCode
    message: str
    field: str | None = strawberry.field(
        default=None, description="The input field at fault (GraphQL name), if one is."
    )
