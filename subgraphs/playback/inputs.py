"""``DeviceProfileInput``: a client-sent device profile, mapped onto ``profile_from_dict``."""

from __future__ import annotations

from typing import Any

import strawberry

from media.playback import DeviceProfile, profile_from_dict

__all__ = [
    "AudioCodecInput",
    "DeviceProfileInput",
    "VideoCodecInput",
    "device_profile",
    "profile_mapping",
]

CUSTOM_PROFILE_NAME = "custom"


@strawberry.input(description="What a device decodes for one video codec; omitted: no limit.")
class VideoCodecInput:
    codec: str
    profiles: list[str] | None = None
    max_level: float | None = None
    max_bit_depth: int | None = strawberry.field(
        default=None, description="Defaults to 8 when omitted."
    )
    hdr_types: list[str] | None = None
    max_width: int | None = None
    max_height: int | None = None
    max_frame_rate: float | None = None


@strawberry.input(description="What a device decodes for one audio codec.")
class AudioCodecInput:
    codec: str
    max_channels: int | None = strawberry.field(
        default=None, description="Defaults to 2 when omitted."
    )


@strawberry.input(description="A device's capabilities, sent by the client with startPlayback.")
class DeviceProfileInput:
    name: str | None = None
    containers: list[str]
    video_codecs: list[VideoCodecInput] | None = None
    audio_codecs: list[AudioCodecInput] | None = None
    text_subtitles: list[str] | None = strawberry.field(
        default=None, description="Defaults to WebVTT only when omitted."
    )
    image_subtitles: list[str] | None = None
    max_bitrate: int | None = None
    hls_fmp4: bool | None = None
    hls_mpegts: bool | None = None


def _given(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: value for name in names if (value := getattr(obj, name)) is not None}


_VIDEO_FIELDS = (
    "codec",
    "profiles",
    "max_level",
    "max_bit_depth",
    "hdr_types",
    "max_width",
    "max_height",
    "max_frame_rate",
)
_PROFILE_FIELDS = (
    "containers",
    "text_subtitles",
    "image_subtitles",
    "max_bitrate",
    "hls_fmp4",
    "hls_mpegts",
)


def device_profile(given: DeviceProfileInput) -> DeviceProfile:
    """The validated profile; ``ValueError`` naming the offending field otherwise."""
    return profile_from_dict(profile_mapping(given))


def profile_mapping(given: DeviceProfileInput) -> dict[str, Any]:
    """The input as the snake_case mapping ``profile_from_dict`` validates (and the database
    stores)."""
    data = _given(given, _PROFILE_FIELDS)
    data["name"] = CUSTOM_PROFILE_NAME if given.name is None else given.name
    if given.video_codecs is not None:
        data["video_codecs"] = [_given(v, _VIDEO_FIELDS) for v in given.video_codecs]
    if given.audio_codecs is not None:
        data["audio_codecs"] = [_given(a, ("codec", "max_channels")) for a in given.audio_codecs]
    return data
