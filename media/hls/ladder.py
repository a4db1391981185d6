"""The adaptive ladder: which renditions a transcode session offers, best first.

The rungs follow the usual H.264 ladders (Apple's HLS authoring examples, the encoding guides of
the big streaming services) rounded to a few steps a home server can afford to encode on demand.
Bitrates scale with pixels, so a 4:3 or scope source at the same height gets proportionally fewer
or more bits than the 16:9 reference, and a source between two rungs (800p) tops the ladder at its
own size with bits interpolated from the rung below. The CODECS strings follow RFC 6381
(``avc1.PPCCLL``) and ISO/IEC 14496-15 Annex E (``hvc1.P.C.TL.B0``), as Apple's examples spell
them; players use them to skip variants they cannot decode before fetching a byte.
"""

from __future__ import annotations

from media.hls.variants import Variant
from media.playback.decision import AudioFacts, Decision, MediaFacts, VideoFacts
from media.playback.profiles import DeviceProfile, VideoCodecLimits, normalize_codec

__all__ = ["AUDIO_BITRATE", "RUNGS", "build_ladder", "h264_codecs", "h264_level"]

# (height, video bits per second at the 16:9 reference width); best first.
RUNGS: tuple[tuple[int, int], ...] = (
    (2160, 16_000_000),
    (1080, 6_000_000),
    (720, 3_000_000),
    (480, 1_500_000),
    (360, 800_000),
)
# AAC-LC stereo: 128 kb/s is where FFmpeg's native AAC encoder stops being audibly lossy on
# stereo, and within Apple's recommended stereo AAC range; 192 kb/s buys little for the
# bandwidth it takes from the 360p/480p rungs.
AUDIO_BITRATE = 128_000
_MIN_VIDEO_BITRATE = 100_000  # a rung squeezed under a tiny cap still gets a watchable floor
_HLS_TS_AUDIO = {"aac": "mp4a.40.2", "ac3": "ac-3", "eac3": "ec-3", "mp3": "mp4a.40.34"}
_H264_PROFILE_IDC = {
    "constrained baseline": "42e0",
    "baseline": "4200",
    "main": "4d00",
    "high": "6400",
    "high 10": "6e00",
    "high 4:2:2": "7a00",
    "high 4:4:4 predictive": "f400",
}
# H.264 Table A-1: (level_idc, max macroblocks per second, max frame size in macroblocks).
_H264_LEVELS = (
    (10, 1_485, 99),
    (11, 3_000, 396),
    (12, 6_000, 396),
    (13, 11_880, 396),
    (20, 11_880, 396),
    (21, 19_800, 792),
    (22, 20_250, 1_620),
    (30, 40_500, 1_620),
    (31, 108_000, 3_600),
    (32, 216_000, 5_120),
    (40, 245_760, 8_192),
    (41, 245_760, 8_192),
    (42, 522_240, 8_704),
    (50, 589_824, 22_080),
    (51, 983_040, 36_864),
    (52, 2_073_600, 36_864),
    (60, 4_177_920, 139_264),
    (61, 8_355_840, 139_264),
    (62, 16_711_680, 139_264),
)


def build_ladder(
    facts: MediaFacts,
    profile: DeviceProfile,
    decision: Decision,
    *,
    max_bitrate: int | None = None,
) -> list[Variant]:
    """The variants to offer, best first; one stream-copied "source" variant when only the
    container or the audio needs work and the video can travel in MPEG-TS as it is.

    ``max_bitrate`` is the client's current cap on top of the profile's. Raises ``ValueError``
    for a file without video (audio-only HLS is not a ladder).
    """
    video = facts.video
    if video is None:
        raise ValueError("an HLS ladder needs a video stream")
    audio = _played_audio(facts, decision)
    audio_codec, audio_bitrate, audio_tag, copy_audio = _audio_output(audio, decision)
    copy_codecs = None if decision.transcode_video else _copy_codecs(video)
    if copy_codecs is not None:
        video_bitrate = video.bitrate or max(0, (facts.bitrate or 0) - audio_bitrate)
        return [
            Variant(
                name="source",
                width=video.width or 0,
                height=video.height or 0,
                video_bitrate=video_bitrate,
                audio_bitrate=audio_bitrate,
                video_codec=normalize_codec(video.codec or ""),
                audio_codec=audio_codec,
                copy_video=True,
                copy_audio=copy_audio,
                codecs=_join(copy_codecs, audio_tag),
                frame_rate=video.frame_rate,
            )
        ]
    limits = profile.video_limits("h264")
    cap = min((c for c in (profile.max_bitrate, max_bitrate) if c is not None), default=None)
    variants: list[Variant] = []
    for width, height in _sizes(video, limits):
        frame_rate = _frame_rate(video.frame_rate, limits)
        level = h264_level(width, height, frame_rate)
        max_level = limits.max_level if limits is not None else None
        while max_level is not None and level / 10 > max_level and (frame_rate or 30.0) > 30.0:
            frame_rate = (frame_rate or 60.0) / 2  # halving the rate is cheaper than a rung
            level = h264_level(width, height, frame_rate)
        if max_level is not None and level / 10 > max_level:
            continue
        variants.append(
            Variant(
                name=f"{height}p",
                width=width,
                height=height,
                video_bitrate=_bitrate(width, height),
                audio_bitrate=audio_bitrate,
                video_codec="h264",
                audio_codec=audio_codec,
                copy_video=False,
                copy_audio=copy_audio,
                codecs=_join(h264_codecs("high", level), audio_tag),
                frame_rate=frame_rate,
            )
        )
    if not variants:
        raise ValueError(f"profile {profile.name!r} allows no H.264 rung for this source")
    return _apply_cap(variants, cap)


def h264_level(width: int, height: int, frame_rate: float | None) -> int:
    """The lowest H.264 ``level_idc`` (41 = 4.1) whose frame size and macroblock rate fit."""
    frame = -(-width // 16) * -(-height // 16)
    rate = frame * (frame_rate or 30.0)
    for level, max_rate, max_frame in _H264_LEVELS:
        if frame <= max_frame and rate <= max_rate:
            return level
    return _H264_LEVELS[-1][0]


def h264_codecs(profile: str | None, level: int) -> str:
    """``avc1.PPCCLL``: profile_idc, constraint flags, level_idc in hex (RFC 6381 3.3).

    Constrained baseline carries constraint_set0..2 (``e0``), as Apple writes it; the other
    profiles state no constraint, which every player accepts. Unknown profiles count as High.
    """
    head = _H264_PROFILE_IDC.get((profile or "high").lower(), "6400")
    return f"avc1.{head}{level:02x}"


def _copy_codecs(video: VideoFacts) -> str | None:
    """The CODECS entry of a stream-copied video, or None when it cannot be copied into TS."""
    codec = normalize_codec(video.codec or "")
    if codec == "h264":
        level = video.level or h264_level(video.width or 0, video.height or 0, video.frame_rate)
        return h264_codecs(video.profile, level)
    # HEVC is not copied: our segments are MPEG-TS, and Apple's players (HLS authoring spec
    # 1.5) take HEVC only in fragmented MP4, so a copied HEVC variant would fail there. It is
    # transcoded to H.264 like any other codec TS does not carry for every client.
    return None


def _played_audio(facts: MediaFacts, decision: Decision) -> AudioFacts | None:
    for stream in facts.audio:
        if stream.index == decision.audio_stream:
            return stream
    return None


def _audio_output(
    audio: AudioFacts | None, decision: Decision
) -> tuple[str | None, int, str | None, bool]:
    """(codec, bitrate, CODECS entry, copied) of the audio every variant carries."""
    if audio is None:
        return None, 0, None, False
    codec = normalize_codec(audio.codec or "")
    if not decision.transcode_audio and codec in _HLS_TS_AUDIO:
        return codec, audio.bitrate or 0, _HLS_TS_AUDIO[codec], True
    return "aac", AUDIO_BITRATE, _HLS_TS_AUDIO["aac"], False


def _sizes(video: VideoFacts, limits: VideoCodecLimits | None) -> list[tuple[int, int]]:
    """Output sizes best first: the source (capped by the profile) when it sits between rungs,
    then every rung no taller than it, with the source's aspect ratio and even dimensions."""
    source_width, source_height = video.width or 1280, video.height or 720
    aspect = source_width / source_height
    top_width, top_height = float(source_width), float(source_height)
    if limits is not None and limits.max_width is not None and top_width > limits.max_width:
        top_width, top_height = limits.max_width, limits.max_width / aspect
    if limits is not None and limits.max_height is not None and top_height > limits.max_height:
        top_width, top_height = limits.max_height * aspect, limits.max_height
    top = (_even(top_width, floor=True), _even(top_height, floor=True))  # never upscale
    sizes = [top]
    for height, _bitrate in RUNGS:
        if height < top[1]:
            sizes.append((_even(height * aspect), height))
    return sizes


def _frame_rate(rate: float | None, limits: VideoCodecLimits | None) -> float | None:
    limit = limits.max_frame_rate if limits is not None else None
    while rate is not None and limit is not None and rate > limit:
        rate /= 2
    return rate


def _bitrate(width: int, height: int) -> int:
    """Bits for a frame size: the rung at or below it, scaled by pixels against 16:9."""
    below = [rung for rung in RUNGS if rung[0] <= height] or [RUNGS[-1]]
    rung_height, rung_bitrate = below[0]
    reference = _even(rung_height * 16 / 9) * rung_height
    return round(rung_bitrate * width * height / reference / 1000) * 1000


def _apply_cap(variants: list[Variant], cap: int | None) -> list[Variant]:
    if cap is None:
        return variants
    fitting = [v for v in variants if v.video_bitrate + v.audio_bitrate <= cap]
    if fitting:
        return fitting
    lowest = variants[-1]
    squeezed = max(_MIN_VIDEO_BITRATE, cap - lowest.audio_bitrate)
    return [
        Variant(
            name=lowest.name,
            width=lowest.width,
            height=lowest.height,
            video_bitrate=squeezed,
            audio_bitrate=lowest.audio_bitrate,
            video_codec=lowest.video_codec,
            audio_codec=lowest.audio_codec,
            copy_video=False,
            copy_audio=lowest.copy_audio,
            codecs=lowest.codecs,
            frame_rate=lowest.frame_rate,
        )
    ]


def _even(value: float, *, floor: bool = False) -> int:
    halves = int(value // 2) if floor else round(value / 2)
    return max(2, halves * 2)


def _join(video_tag: str, audio_tag: str | None) -> str:
    return f"{video_tag},{audio_tag}" if audio_tag else video_tag
