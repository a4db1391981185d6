"""Playback enums."""

from __future__ import annotations

from enum import Enum

import strawberry

__all__ = ["PlaybackMethod", "SubtitleDelivery"]


@strawberry.enum
class PlaybackMethod(Enum):
    DIRECT_PLAY = "DIRECT_PLAY"
    REMUX = "REMUX"
    TRANSCODE = "TRANSCODE"


@strawberry.enum
class SubtitleDelivery(Enum):
    NONE = "NONE"
    ORIGINAL = "ORIGINAL"
    CONVERT_TO_WEBVTT = "CONVERT_TO_WEBVTT"
    BURN_IN = "BURN_IN"
