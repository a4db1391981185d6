"""Playback decisions: which device plays what, and how the server must help (pure Python)."""

from media.playback.decision import (
    AudioFacts,
    Decision,
    MediaFacts,
    PlaybackMethod,
    Reason,
    SubtitleDelivery,
    SubtitleFacts,
    VideoFacts,
    decide,
    facts_from_probe,
    facts_from_rows,
)
from media.playback.profiles import (
    BUILTIN_PROFILES,
    AudioCodecLimits,
    DeviceProfile,
    VideoCodecLimits,
    builtin_profile,
    profile_from_dict,
)

__all__ = [
    "BUILTIN_PROFILES",
    "AudioCodecLimits",
    "AudioFacts",
    "Decision",
    "DeviceProfile",
    "MediaFacts",
    "PlaybackMethod",
    "Reason",
    "SubtitleDelivery",
    "SubtitleFacts",
    "VideoCodecLimits",
    "VideoFacts",
    "builtin_profile",
    "decide",
    "facts_from_probe",
    "facts_from_rows",
    "profile_from_dict",
]
