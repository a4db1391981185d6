"""Device profiles: what a client can play without help from the server.

A profile lists containers, video codecs with their limits, audio codecs with channel limits,
the subtitle formats the client renders itself, a bitrate cap and which HLS segment formats
it accepts. The decision engine (``media.playback.decision``) compares a file's facts with one
profile. Names are normalised (``normalize_codec`` and friends) so that the catalog's FFmpeg
names ("hdmv_pgs_subtitle", "matroska") and a client's short names ("pgs", "mkv") meet.

Where the built-in facts come from (conservative where a source says "platform dependent"):

- ``chromium`` / ``firefox``: MDN Web Docs, "Media container formats (file types)", "Web video
  codec guide" and "Web audio codec guide" (MP4/WebM/Ogg containers; H.264, VP8, VP9, AV1 video;
  AAC, MP3, Opus, Vorbis, FLAC audio; no AC-3/DTS); the caniuse "HEVC/H.265 video format" table
  (Chrome's HEVC needs hardware and Firefox declined it, so neither profile claims HEVC); the HTML
  ``<track>`` element takes WebVTT only. HLS in these browsers goes through MSE (hls.js), which
  accepts fMP4 and MPEG-TS segments.
- ``safari`` / ``ios``: Apple's "HLS Authoring Specification for Apple Devices" (H.264 up to High
  profile level 4.2, HEVC up to Main 10 level 5.0, HDR as HDR10 or Dolby Vision, no frame rates
  above 60, H.264 in fMP4 or MPEG-TS but HEVC in fMP4 only, AAC/AC-3/E-AC-3/ALAC/FLAC audio,
  WebVTT subtitles) and Apple's tech talk "Authoring 4K and HDR HLS Streams" (Dolby Vision
  profile 5, HDR10, 4K frame sizes). HLG follows the same spec's later revisions.
- ``android``: Android Developers, "ExoPlayer supported formats" (Media3): containers (MP4,
  Matroska, WebM, MPEG-TS, Ogg, ...), sample formats through the device's MediaCodec decoders,
  the HDR section (HDR10 and HLG need decoder support, Dolby Vision is device specific, so not
  claimed), and the subtitle formats (WebVTT, TTML, SubRip, SSA/ASS, tx3g, PGS, VobSub, DVB).
- ``kodi``: Kodi/mpv play through FFmpeg, so the profile accepts every common container and
  codec without limits and renders text and image subtitles itself.
- ``dlna``: the generic DLNA TV described in the playback issue (MPEG-TS/MP4, H.264 up to level
  4.1 in 8 bits, AAC/AC-3 up to 6 channels, no text subtitles), in line with the DLNA media
  format profiles for AVC in MPEG-TS and MP4 that such TVs advertise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Normalize = Callable[[str], str]

__all__ = [
    "BUILTIN_PROFILES",
    "HDR_TYPES",
    "AudioCodecLimits",
    "DeviceProfile",
    "VideoCodecLimits",
    "builtin_profile",
    "normalize_codec",
    "normalize_container",
    "normalize_subtitle_format",
    "profile_from_dict",
]

HDR_TYPES = frozenset({"HDR10", "HLG", "DOLBY_VISION"})

_CONTAINER_ALIASES = {
    "matroska": "mkv",
    "matroska,webm": "mkv",
    "ts": "mpegts",
    "m2ts": "mpegts",
    "mts": "mpegts",
    "m4v": "mp4",
    "fmp4": "mp4",
    "quicktime": "mov",
    "ogv": "ogg",
}
_CODEC_ALIASES = {
    "avc": "h264",
    "avc1": "h264",
    "h265": "hevc",
    "hvc1": "hevc",
    "hev1": "hevc",
    "mpeg2": "mpeg2video",
    "e-ac3": "eac3",
    "ec-3": "eac3",
    "ac-3": "ac3",
    "dca": "dts",
    "libopus": "opus",
    "mp4a": "aac",
}
_SUBTITLE_ALIASES = {
    "hdmv_pgs_subtitle": "pgs",
    "pgssub": "pgs",
    "sup": "pgs",
    "dvd_subtitle": "vobsub",
    "dvdsub": "vobsub",
    "dvb_subtitle": "dvbsub",
    "srt": "subrip",
    "ssa": "ass",
    "vtt": "webvtt",
    "tx3g": "mov_text",
    "text": "subrip",
}


def normalize_container(name: str) -> str:
    key = name.strip().lower()
    return _CONTAINER_ALIASES.get(key, key)


def normalize_codec(name: str) -> str:
    key = name.strip().lower()
    if key.startswith("pcm_"):
        return "pcm"
    return _CODEC_ALIASES.get(key, key)


def normalize_subtitle_format(name: str) -> str:
    key = name.strip().lower()
    return _SUBTITLE_ALIASES.get(key, key)


@dataclass(frozen=True, slots=True)
class VideoCodecLimits:
    """One video codec a device decodes; ``None`` means "no limit" (or any profile).

    ``profiles`` are lower-case FFmpeg profile names ("high", "main 10", "profile 0");
    ``max_level`` is the codec's own decimal level (H.264 4.1, HEVC 5.1, AV1 5.1).
    """

    codec: str
    profiles: frozenset[str] | None = None
    max_level: float | None = None
    max_bit_depth: int | None = 8
    hdr_types: frozenset[str] = frozenset()
    max_width: int | None = None
    max_height: int | None = None
    max_frame_rate: float | None = None


@dataclass(frozen=True, slots=True)
class AudioCodecLimits:
    codec: str
    max_channels: int | None = 2


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """What one kind of client plays natively. Immutable, so one instance serves every request.

    ``text_subtitles`` are formats the client renders itself when the server hands them over
    as a side track; ``image_subtitles`` are bitmap formats it draws itself (others must be
    burnt into the video).
    """

    name: str
    containers: frozenset[str]
    video_codecs: tuple[VideoCodecLimits, ...]
    audio_codecs: tuple[AudioCodecLimits, ...]
    text_subtitles: frozenset[str] = frozenset({"webvtt"})
    image_subtitles: frozenset[str] = frozenset()
    max_bitrate: int | None = None
    hls_fmp4: bool = True
    hls_mpegts: bool = True
    _video_by_codec: Mapping[str, VideoCodecLimits] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _audio_by_codec: Mapping[str, AudioCodecLimits] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _hdr_types: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Lookups the decision engine makes on every call, built once.
        object.__setattr__(self, "_video_by_codec", {v.codec: v for v in self.video_codecs})
        object.__setattr__(self, "_audio_by_codec", {a.codec: a for a in self.audio_codecs})
        hdr: frozenset[str] = frozenset().union(*(v.hdr_types for v in self.video_codecs))
        object.__setattr__(self, "_hdr_types", hdr)

    def video_limits(self, codec: str) -> VideoCodecLimits | None:
        return self._video_by_codec.get(codec)

    def audio_limits(self, codec: str) -> AudioCodecLimits | None:
        return self._audio_by_codec.get(codec)

    @property
    def displayable_hdr_types(self) -> frozenset[str]:
        """HDR formats the device shows with any codec; anything else must be tone-mapped."""
        return self._hdr_types


# -- built-in profiles ---------------------------------------------------------------------

_H264_PROFILES = frozenset({"constrained baseline", "baseline", "main", "high"})
_HEVC_PROFILES = frozenset({"main", "main 10"})
_VP9_PROFILES = frozenset({"profile 0", "profile 2"})
_AV1_PROFILES = frozenset({"main"})


def _uhd(
    codec: str,
    profiles: frozenset[str] | None,
    max_level: float | None,
    max_bit_depth: int,
    hdr_types: frozenset[str] = frozenset(),
) -> VideoCodecLimits:
    """A decoder limited to 3840x2160 at 60 frames per second."""
    return VideoCodecLimits(codec, profiles, max_level, max_bit_depth, hdr_types, 3840, 2160, 60.0)


_WEB_AUDIO = (
    AudioCodecLimits("aac", 6),
    AudioCodecLimits("mp3", 2),
    AudioCodecLimits("opus", 8),
    AudioCodecLimits("vorbis", 8),
    AudioCodecLimits("flac", 8),
)
_WEB_VIDEO = (
    _uhd("h264", _H264_PROFILES, 5.2, 8),
    _uhd("vp8", None, None, 8),
    _uhd("vp9", _VP9_PROFILES, None, 10),
    _uhd("av1", _AV1_PROFILES, None, 10),
)
_APPLE_HDR = frozenset({"HDR10", "HLG", "DOLBY_VISION"})
_APPLE_VIDEO = (
    _uhd("h264", _H264_PROFILES, 4.2, 8),
    _uhd("hevc", _HEVC_PROFILES, 5.0, 10, _APPLE_HDR),
)
_APPLE_AUDIO = (
    AudioCodecLimits("aac", 8),
    AudioCodecLimits("ac3", 6),
    AudioCodecLimits("eac3", 8),
    AudioCodecLimits("alac", 8),
    AudioCodecLimits("flac", 8),
    AudioCodecLimits("mp3", 2),
)
_KODI_VIDEO_CODECS = (
    "h264",
    "hevc",
    "vp8",
    "vp9",
    "av1",
    "mpeg1video",
    "mpeg2video",
    "mpeg4",
    "msmpeg4v3",
    "vc1",
    "wmv3",
    "theora",
    "prores",
)
_KODI_AUDIO_CODECS = (
    "aac",
    "mp3",
    "mp2",
    "ac3",
    "eac3",
    "dts",
    "truehd",
    "mlp",
    "opus",
    "vorbis",
    "flac",
    "alac",
    "pcm",
    "wmav2",
    "wmapro",
)

BUILTIN_PROFILES: Mapping[str, DeviceProfile] = {
    profile.name: profile
    for profile in (
        DeviceProfile(
            name="chromium",
            containers=frozenset({"mp4", "webm"}),
            video_codecs=_WEB_VIDEO,
            audio_codecs=_WEB_AUDIO,
        ),
        DeviceProfile(
            name="firefox",
            containers=frozenset({"mp4", "webm", "ogg"}),
            video_codecs=_WEB_VIDEO,
            audio_codecs=_WEB_AUDIO,
        ),
        DeviceProfile(
            name="safari",
            containers=frozenset({"mp4", "mov"}),
            video_codecs=_APPLE_VIDEO,
            audio_codecs=_APPLE_AUDIO,
        ),
        DeviceProfile(
            name="ios",
            containers=frozenset({"mp4", "mov", "mpegts"}),
            video_codecs=_APPLE_VIDEO,
            audio_codecs=_APPLE_AUDIO,
        ),
        DeviceProfile(
            name="android",
            containers=frozenset({"mp4", "mkv", "webm", "mpegts", "ogg", "3gp"}),
            video_codecs=(
                _uhd("h264", _H264_PROFILES, 5.1, 8),
                _uhd("hevc", _HEVC_PROFILES, 5.1, 10, frozenset({"HDR10", "HLG"})),
                _uhd("vp8", None, None, 8),
                _uhd("vp9", _VP9_PROFILES, None, 10, frozenset({"HDR10", "HLG"})),
                _uhd("av1", _AV1_PROFILES, None, 10),
            ),
            audio_codecs=(
                AudioCodecLimits("aac", 8),
                AudioCodecLimits("mp3", 2),
                AudioCodecLimits("opus", 8),
                AudioCodecLimits("vorbis", 8),
                AudioCodecLimits("flac", 8),
            ),
            text_subtitles=frozenset({"webvtt", "subrip", "ass", "ttml", "mov_text"}),
            image_subtitles=frozenset({"pgs", "vobsub", "dvbsub"}),
        ),
        DeviceProfile(
            name="kodi",
            containers=frozenset(
                {"mkv", "webm", "mp4", "mov", "avi", "mpegts", "ogg", "asf", "wmv", "flv"}
                | {"3gp", "mpeg", "m4a"}
            ),
            video_codecs=tuple(
                VideoCodecLimits(codec, max_bit_depth=None, hdr_types=HDR_TYPES)
                for codec in _KODI_VIDEO_CODECS
            ),
            audio_codecs=tuple(AudioCodecLimits(codec, 8) for codec in _KODI_AUDIO_CODECS),
            text_subtitles=frozenset({"webvtt", "subrip", "ass", "mov_text", "ttml", "microdvd"}),
            image_subtitles=frozenset({"pgs", "vobsub", "dvbsub"}),
        ),
        DeviceProfile(
            name="dlna",
            containers=frozenset({"mpegts", "mp4"}),
            video_codecs=(
                VideoCodecLimits(
                    "h264",
                    _H264_PROFILES,
                    4.1,
                    8,
                    max_width=1920,
                    max_height=1080,
                    max_frame_rate=60.0,
                ),
            ),
            audio_codecs=(AudioCodecLimits("aac", 6), AudioCodecLimits("ac3", 6)),
            text_subtitles=frozenset(),
            max_bitrate=40_000_000,
            hls_fmp4=False,
            hls_mpegts=False,
        ),
    )
}


def builtin_profile(name: str) -> DeviceProfile:
    """The built-in profile of that name; ``KeyError`` names the known ones."""
    try:
        return BUILTIN_PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_PROFILES))
        raise KeyError(f"unknown device profile {name!r}; built-in profiles: {known}") from None


# -- custom profiles sent by clients -------------------------------------------------------

_PROFILE_KEYS = frozenset(
    {
        "name",
        "containers",
        "video_codecs",
        "audio_codecs",
        "text_subtitles",
        "image_subtitles",
        "max_bitrate",
        "hls_fmp4",
        "hls_mpegts",
    }
)
_VIDEO_KEYS = frozenset(
    {
        "codec",
        "profiles",
        "max_level",
        "max_bit_depth",
        "hdr_types",
        "max_width",
        "max_height",
        "max_frame_rate",
    }
)
_AUDIO_KEYS = frozenset({"codec", "max_channels"})
_MAX_LIST = 64
_MAX_NAME = 64


def profile_from_dict(data: Mapping[str, Any]) -> DeviceProfile:
    """Validate a client-sent profile (snake_case keys, as ``DeviceProfileInput`` maps them).

    Raises ``ValueError`` naming the offending field, e.g. ``video_codecs[1].max_level``.
    Omitted optional limits mean "no limit"; omitted subtitle lists mean WebVTT only.
    """
    if not isinstance(data, Mapping):
        raise ValueError("profile: must be an object")
    _reject_unknown(data, _PROFILE_KEYS, "profile")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise ValueError(f"name: must be a non-empty string of at most {_MAX_NAME} characters")
    containers = _names(data.get("containers"), "containers", normalize_container, required=True)
    video = tuple(
        _video_limits(item, f"video_codecs[{i}]")
        for i, item in enumerate(_list(data.get("video_codecs", []), "video_codecs"))
    )
    audio = tuple(
        _audio_limits(item, f"audio_codecs[{i}]")
        for i, item in enumerate(_list(data.get("audio_codecs", []), "audio_codecs"))
    )
    if not video and not audio:
        raise ValueError("video_codecs: at least one video or audio codec is required")
    _unique((v.codec for v in video), "video_codecs")
    _unique((a.codec for a in audio), "audio_codecs")
    return DeviceProfile(
        name=name.strip(),
        containers=containers,
        video_codecs=video,
        audio_codecs=audio,
        text_subtitles=_names(
            data.get("text_subtitles", ["webvtt"]), "text_subtitles", normalize_subtitle_format
        ),
        image_subtitles=_names(
            data.get("image_subtitles", []), "image_subtitles", normalize_subtitle_format
        ),
        max_bitrate=_int(data.get("max_bitrate"), "max_bitrate", 1, 10**12),
        hls_fmp4=_bool(data.get("hls_fmp4", True), "hls_fmp4"),
        hls_mpegts=_bool(data.get("hls_mpegts", True), "hls_mpegts"),
    )


def _video_limits(item: Any, where: str) -> VideoCodecLimits:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: must be an object")
    _reject_unknown(item, _VIDEO_KEYS, where)
    hdr_types = frozenset(
        _string(value, f"{where}.hdr_types[{i}]").upper()
        for i, value in enumerate(_list(item.get("hdr_types", []), f"{where}.hdr_types"))
    )
    unknown_hdr = sorted(hdr_types - HDR_TYPES)
    if unknown_hdr:
        raise ValueError(
            f"{where}.hdr_types: unknown {', '.join(unknown_hdr)}; "
            f"expected some of {', '.join(sorted(HDR_TYPES))}"
        )
    profiles = item.get("profiles")
    bit_depth = _int(item.get("max_bit_depth", 8), f"{where}.max_bit_depth", 8, 16)
    return VideoCodecLimits(
        codec=normalize_codec(_string(item.get("codec"), f"{where}.codec")),
        profiles=None
        if profiles is None
        else _names(profiles, f"{where}.profiles", lambda p: p.strip().lower(), required=True),
        max_level=_number(item.get("max_level"), f"{where}.max_level", 0.1, 100.0),
        max_bit_depth=bit_depth,
        hdr_types=hdr_types,
        max_width=_int(item.get("max_width"), f"{where}.max_width", 16, 16384),
        max_height=_int(item.get("max_height"), f"{where}.max_height", 16, 16384),
        max_frame_rate=_number(item.get("max_frame_rate"), f"{where}.max_frame_rate", 1.0, 1000.0),
    )


def _audio_limits(item: Any, where: str) -> AudioCodecLimits:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: must be an object")
    _reject_unknown(item, _AUDIO_KEYS, where)
    return AudioCodecLimits(
        codec=normalize_codec(_string(item.get("codec"), f"{where}.codec")),
        max_channels=_int(item.get("max_channels", 2), f"{where}.max_channels", 1, 32),
    )


def _reject_unknown(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field {', '.join(unknown)}")


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{where}: must be a list")
    if len(value) > _MAX_LIST:
        raise ValueError(f"{where}: at most {_MAX_LIST} entries")
    return list(value)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME:
        raise ValueError(f"{where}: must be a non-empty string of at most {_MAX_NAME} characters")
    return value


def _names(
    value: Any, where: str, normalize: Normalize, *, required: bool = False
) -> frozenset[str]:
    items = _list(value, where)
    if required and not items:
        raise ValueError(f"{where}: must not be empty")
    return frozenset(normalize(_string(item, f"{where}[{i}]")) for i, item in enumerate(items))


def _unique(codecs: Iterable[str], where: str) -> None:
    seen: set[str] = set()
    for codec in codecs:
        if codec in seen:
            raise ValueError(f"{where}: {codec} is listed twice")
        seen.add(codec)


def _int(value: Any, where: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: must be an integer")
    if not low <= value <= high:
        raise ValueError(f"{where}: must be between {low} and {high}")
    return value


def _number(value: Any, where: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: must be a number")
    if not low <= value <= high:
        raise ValueError(f"{where}: must be between {low:g} and {high:g}")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: must be true or false")
    return value
