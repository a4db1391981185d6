"""Playback enums."""

from __future__ import annotations

from enum import Enum

import strawberry

__all__ = ["PlaybackMethod"]


@strawberry.enum
class PlaybackMethod(Enum):
    DIRECT_PLAY = "DIRECT_PLAY"
    REMUX = "REMUX"
    TRANSCODE = "TRANSCODE"
