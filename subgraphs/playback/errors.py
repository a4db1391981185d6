"""The playback mutations' error type: expected failures are part of the schema."""

from __future__ import annotations

from enum import Enum

import strawberry

__all__ = ["PlaybackError", "PlaybackErrorCode"]


@strawberry.enum
class PlaybackErrorCode(Enum):
    NOT_FOUND = "NOT_FOUND"
    NO_PLAYABLE_FILE = "NO_PLAYABLE_FILE"
    UNKNOWN_PROFILE = "UNKNOWN_PROFILE"
    INVALID_PROFILE = "INVALID_PROFILE"
    INVALID_STREAM = "INVALID_STREAM"
    TRANSCODING_UNAVAILABLE = "TRANSCODING_UNAVAILABLE"
    SIGNING_UNAVAILABLE = "SIGNING_UNAVAILABLE"
    STREAM_LIMIT_REACHED = "STREAM_LIMIT_REACHED"
    NOT_ENTITLED = "NOT_ENTITLED"


@strawberry.type
class PlaybackError:
    code: PlaybackErrorCode
    message: str
