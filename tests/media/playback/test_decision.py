# ruff: noqa: E501  (the decision table reads best one case per line)

import pytest

from media.playback import (
    AudioFacts,
    MediaFacts,
    PlaybackMethod,
    Reason,
    SubtitleDelivery,
    SubtitleFacts,
    VideoFacts,
    builtin_profile,
    decide,
)

DIRECT = PlaybackMethod.DIRECT_PLAY
REMUX = PlaybackMethod.REMUX
TRANSCODE = PlaybackMethod.TRANSCODE
R = Reason
ORIGINAL = SubtitleDelivery.ORIGINAL
WEBVTT = SubtitleDelivery.CONVERT_TO_WEBVTT
BURN = SubtitleDelivery.BURN_IN
NONE = SubtitleDelivery.NONE

H264 = VideoFacts(0, "h264", "High", 40, 8, 1920, 1080, 23.976)
H264_L51 = VideoFacts(0, "h264", "High", 51, 8, 1920, 1080, 23.976)
H264_HIGH10 = VideoFacts(0, "h264", "High 10", 40, 10, 1920, 1080, 23.976)
H264_4096 = VideoFacts(0, "h264", "High", 51, 8, 4096, 2160, 24.0)
H264_120FPS = VideoFacts(0, "h264", "High", 42, 8, 1920, 1080, 120.0)
HEVC_HDR10_L50 = VideoFacts(0, "hevc", "Main 10", 150, 10, 3840, 2160, 23.976, "HDR10")
HEVC_HDR10_L51 = VideoFacts(0, "hevc", "Main 10", 153, 10, 3840, 2160, 23.976, "HDR10")
HEVC_DV = VideoFacts(0, "hevc", "Main 10", 150, 10, 3840, 2160, 23.976, "DOLBY_VISION")
VP9 = VideoFacts(0, "vp9", "Profile 0", None, 8, 1920, 1080, 30.0)
MPEG4 = VideoFacts(0, "mpeg4", "Simple Profile", 1, 8, 720, 480, 29.97)
AAC = AudioFacts(1, "aac", 2)
AAC_71 = AudioFacts(1, "aac", 8)
AC3 = AudioFacts(1, "ac3", 6)
DTS = AudioFacts(1, "dts", 6)
TRUEHD = AudioFacts(1, "truehd", 8)
OPUS = AudioFacts(1, "opus", 2)
MP3 = AudioFacts(1, "mp3", 2)
PGS = SubtitleFacts(2, "hdmv_pgs_subtitle")
SRT = SubtitleFacts(2, "subrip")
SRT_EXTERNAL = SubtitleFacts(2, "subrip", is_external=True)
ASS = SubtitleFacts(2, "ass")
VTT_EXTERNAL = SubtitleFacts(2, "webvtt", is_external=True)


def _file(container, video=H264, audio=AAC, subtitle=None, bitrate=5_000_000):
    return MediaFacts(
        container=container,
        bitrate=bitrate,
        video=video,
        audio=(audio,),
        subtitles=(subtitle,) if subtitle else (),
    )


H264_MP4 = _file("mp4")
H264_MKV = _file("mkv")
HDR_MKV = _file("mkv", HEVC_HDR10_L51, bitrate=40_000_000)

# (profile, file, subtitle stream, max bitrate) →
# (method, reasons, transcode video, transcode audio, burn-in, target container, subtitles)
CASES = [
    # h264/aac in mp4 plays everywhere
    ("chromium", H264_MP4, None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("firefox", H264_MP4, None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("safari", H264_MP4, None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("ios", H264_MP4, None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("android", H264_MP4, None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("kodi", H264_MP4, None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("dlna", H264_MP4, None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("dlna", _file("mpegts"), None, None, (DIRECT, (), False, False, False, "mpegts", NONE)),
    # the same streams in Matroska: only the container is the problem
    ("chromium", H264_MKV, None, None, (REMUX, (R.CONTAINER_UNSUPPORTED,), False, False, False, "mp4", NONE)),
    ("firefox", H264_MKV, None, None, (REMUX, (R.CONTAINER_UNSUPPORTED,), False, False, False, "mp4", NONE)),
    ("safari", H264_MKV, None, None, (REMUX, (R.CONTAINER_UNSUPPORTED,), False, False, False, "mp4", NONE)),
    ("dlna", H264_MKV, None, None, (REMUX, (R.CONTAINER_UNSUPPORTED,), False, False, False, "mp4", NONE)),
    ("android", H264_MKV, None, None, (DIRECT, (), False, False, False, "mkv", NONE)),
    ("kodi", H264_MKV, None, None, (DIRECT, (), False, False, False, "mkv", NONE)),
    # HEVC 10-bit HDR10
    ("chromium", HDR_MKV, None, None, (TRANSCODE, (R.CONTAINER_UNSUPPORTED, R.VIDEO_CODEC_UNSUPPORTED, R.HDR_UNSUPPORTED), True, False, False, "mp4", NONE)),
    ("firefox", HDR_MKV, None, None, (TRANSCODE, (R.CONTAINER_UNSUPPORTED, R.VIDEO_CODEC_UNSUPPORTED, R.HDR_UNSUPPORTED), True, False, False, "mp4", NONE)),
    ("kodi", HDR_MKV, None, None, (DIRECT, (), False, False, False, "mkv", NONE)),
    ("android", HDR_MKV, None, None, (DIRECT, (), False, False, False, "mkv", NONE)),
    ("safari", HDR_MKV, None, None, (TRANSCODE, (R.CONTAINER_UNSUPPORTED, R.VIDEO_LEVEL_TOO_HIGH), True, False, False, "mp4", NONE)),
    ("safari", _file("mp4", HEVC_HDR10_L50), None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("ios", _file("mkv", HEVC_HDR10_L50), None, None, (REMUX, (R.CONTAINER_UNSUPPORTED,), False, False, False, "mp4", NONE)),
    ("ios", _file("mp4", HEVC_DV), None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("android", _file("mkv", HEVC_DV), None, None, (TRANSCODE, (R.HDR_UNSUPPORTED,), True, False, False, "mp4", NONE)),
    ("dlna", _file("mp4", HEVC_HDR10_L50), None, None, (TRANSCODE, (R.VIDEO_CODEC_UNSUPPORTED, R.HDR_UNSUPPORTED), True, False, False, "mpegts", NONE)),
    # H.264 limits
    ("dlna", _file("mp4", H264_L51), None, None, (TRANSCODE, (R.VIDEO_LEVEL_TOO_HIGH,), True, False, False, "mpegts", NONE)),
    ("chromium", _file("mp4", H264_L51), None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("dlna", _file("mp4", H264_HIGH10), None, None, (TRANSCODE, (R.VIDEO_PROFILE_UNSUPPORTED, R.VIDEO_BIT_DEPTH_UNSUPPORTED), True, False, False, "mpegts", NONE)),
    ("kodi", _file("mkv", H264_HIGH10), None, None, (DIRECT, (), False, False, False, "mkv", NONE)),
    ("chromium", _file("mp4", H264_4096), None, None, (TRANSCODE, (R.VIDEO_RESOLUTION_TOO_HIGH,), True, False, False, "mp4", NONE)),
    ("safari", _file("mp4", H264_120FPS), None, None, (TRANSCODE, (R.VIDEO_FRAME_RATE_TOO_HIGH,), True, False, False, "mp4", NONE)),
    # audio
    ("chromium", _file("mkv", audio=DTS), None, None, (TRANSCODE, (R.CONTAINER_UNSUPPORTED, R.AUDIO_CODEC_UNSUPPORTED), False, True, False, "mp4", NONE)),
    ("android", _file("mkv", audio=DTS), None, None, (TRANSCODE, (R.AUDIO_CODEC_UNSUPPORTED,), False, True, False, "mp4", NONE)),
    ("kodi", _file("mkv", audio=DTS), None, None, (DIRECT, (), False, False, False, "mkv", NONE)),
    ("kodi", _file("mkv", audio=TRUEHD), None, None, (DIRECT, (), False, False, False, "mkv", NONE)),
    ("chromium", _file("mp4", audio=AC3), None, None, (TRANSCODE, (R.AUDIO_CODEC_UNSUPPORTED,), False, True, False, "mp4", NONE)),
    ("safari", _file("mp4", audio=AC3), None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("dlna", _file("mpegts", audio=AC3), None, None, (DIRECT, (), False, False, False, "mpegts", NONE)),
    ("dlna", _file("mpegts", audio=AAC_71), None, None, (TRANSCODE, (R.AUDIO_CHANNELS_TOO_MANY,), False, True, False, "mpegts", NONE)),
    ("chromium", _file("mp4", audio=AAC_71), None, None, (TRANSCODE, (R.AUDIO_CHANNELS_TOO_MANY,), False, True, False, "mp4", NONE)),
    ("ios", _file("mp4", audio=AAC_71), None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    # other codecs and containers
    ("chromium", _file("webm", VP9, OPUS), None, None, (DIRECT, (), False, False, False, "webm", NONE)),
    ("firefox", _file("webm", VP9, OPUS), None, None, (DIRECT, (), False, False, False, "webm", NONE)),
    ("safari", _file("webm", VP9, OPUS), None, None, (TRANSCODE, (R.CONTAINER_UNSUPPORTED, R.VIDEO_CODEC_UNSUPPORTED, R.AUDIO_CODEC_UNSUPPORTED), True, True, False, "mp4", NONE)),
    ("chromium", _file("avi", MPEG4, MP3), None, None, (TRANSCODE, (R.CONTAINER_UNSUPPORTED, R.VIDEO_CODEC_UNSUPPORTED), True, False, False, "mp4", NONE)),
    ("kodi", _file("avi", MPEG4, MP3), None, None, (DIRECT, (), False, False, False, "avi", NONE)),
    # subtitles: image formats need burn-in unless the client draws them
    ("chromium", _file("mkv", subtitle=PGS), 2, None, (TRANSCODE, (R.CONTAINER_UNSUPPORTED, R.SUBTITLE_NEEDS_BURN_IN), True, False, True, "mp4", BURN)),
    ("safari", _file("mp4", subtitle=PGS), 2, None, (TRANSCODE, (R.SUBTITLE_NEEDS_BURN_IN,), True, False, True, "mp4", BURN)),
    ("chromium", _file("mkv", subtitle=PGS), None, None, (REMUX, (R.CONTAINER_UNSUPPORTED,), False, False, False, "mp4", NONE)),
    ("kodi", _file("mkv", subtitle=PGS), 2, None, (DIRECT, (), False, False, False, "mkv", ORIGINAL)),
    ("android", _file("mkv", subtitle=PGS), 2, None, (DIRECT, (), False, False, False, "mkv", ORIGINAL)),
    # text subtitles become WebVTT, never a transcode
    ("chromium", _file("mkv", subtitle=SRT), 2, None, (REMUX, (R.CONTAINER_UNSUPPORTED, R.SUBTITLE_FORMAT_UNSUPPORTED), False, False, False, "mp4", WEBVTT)),
    ("chromium", _file("mp4", subtitle=SRT_EXTERNAL), 2, None, (DIRECT, (R.SUBTITLE_FORMAT_UNSUPPORTED,), False, False, False, "mp4", WEBVTT)),
    ("firefox", _file("mp4", subtitle=VTT_EXTERNAL), 2, None, (DIRECT, (), False, False, False, "mp4", ORIGINAL)),
    ("android", _file("mkv", subtitle=ASS), 2, None, (DIRECT, (), False, False, False, "mkv", ORIGINAL)),
    ("kodi", _file("mkv", subtitle=SRT), 2, None, (DIRECT, (), False, False, False, "mkv", ORIGINAL)),
    ("dlna", _file("mpegts", subtitle=SRT), 2, None, (TRANSCODE, (R.SUBTITLE_FORMAT_UNSUPPORTED, R.SUBTITLE_NEEDS_BURN_IN), True, False, True, "mpegts", BURN)),
    # bitrate caps: the client's and the profile's
    ("chromium", _file("mp4", bitrate=30_000_000), None, 8_000_000, (TRANSCODE, (R.BITRATE_TOO_HIGH,), True, False, False, "mp4", NONE)),
    ("chromium", _file("mp4", bitrate=30_000_000), None, None, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("dlna", _file("mp4", bitrate=60_000_000), None, None, (TRANSCODE, (R.BITRATE_TOO_HIGH,), True, False, False, "mpegts", NONE)),
    ("dlna", _file("mp4", bitrate=30_000_000), None, 100_000_000, (DIRECT, (), False, False, False, "mp4", NONE)),
    ("kodi", _file("mkv", bitrate=80_000_000), None, None, (DIRECT, (), False, False, False, "mkv", NONE)),
    ("kodi", _file("mkv", bitrate=80_000_000), None, 20_000_000, (TRANSCODE, (R.BITRATE_TOO_HIGH,), True, False, False, "mp4", NONE)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("profile_name", "file", "subtitle_stream", "max_bitrate", "expected"), CASES
)
def test_decision_table(profile_name, file, subtitle_stream, max_bitrate, expected):
    decision = decide(
        file,
        builtin_profile(profile_name),
        audio_stream=None,
        subtitle_stream=subtitle_stream,
        max_bitrate=max_bitrate,
    )

    assert (
        decision.method,
        decision.reasons,
        decision.transcode_video,
        decision.transcode_audio,
        decision.burn_in_subtitle,
        decision.target_container,
        decision.subtitle_delivery,
    ) == expected


def test_table_has_enough_cases():
    assert len(CASES) >= 40


def test_transcode_is_hls_when_the_client_plays_hls():
    file = _file("mkv", audio=DTS)

    web = decide(
        file, builtin_profile("chromium"), audio_stream=None, subtitle_stream=None, max_bitrate=None
    )
    tv = decide(
        file, builtin_profile("dlna"), audio_stream=None, subtitle_stream=None, max_bitrate=None
    )

    assert (web.is_hls, web.target_container) == (True, "mp4")
    assert (tv.is_hls, tv.target_container) == (False, "mpegts")


def test_selected_audio_stream_decides_not_the_default():
    file = MediaFacts(
        container="mp4",
        bitrate=5_000_000,
        video=H264,
        audio=(AudioFacts(1, "ac3", 6, is_default=True), AudioFacts(2, "aac", 2)),
    )
    chromium = builtin_profile("chromium")

    by_default = decide(file, chromium, audio_stream=None, subtitle_stream=None, max_bitrate=None)
    chosen = decide(file, chromium, audio_stream=2, subtitle_stream=None, max_bitrate=None)

    assert (by_default.method, by_default.audio_stream) == (TRANSCODE, 1)
    assert by_default.reasons == (R.AUDIO_CODEC_UNSUPPORTED,)
    assert (chosen.method, chosen.audio_stream, chosen.reasons) == (DIRECT, 2, ())


def test_unknown_stream_indexes_are_rejected():
    chromium = builtin_profile("chromium")

    with pytest.raises(ValueError, match=r"^audio_stream 7 is not an audio stream of this file$"):
        decide(H264_MP4, chromium, audio_stream=7, subtitle_stream=None, max_bitrate=None)
    with pytest.raises(
        ValueError, match=r"^subtitle_stream 0 is not a subtitle stream of this file$"
    ):
        decide(H264_MP4, chromium, audio_stream=None, subtitle_stream=0, max_bitrate=None)


def test_bitrate_falls_back_to_the_sum_of_stream_bitrates():
    file = MediaFacts(
        container="mp4",
        bitrate=None,
        video=VideoFacts(0, "h264", "High", 40, 8, 1920, 1080, 24.0, bitrate=9_000_000),
        audio=(AudioFacts(1, "aac", 2, bitrate=256_000),),
    )

    decision = decide(
        file,
        builtin_profile("chromium"),
        audio_stream=None,
        subtitle_stream=None,
        max_bitrate=9_000_000,
    )

    assert decision.reasons == (R.BITRATE_TOO_HIGH,)


def test_audio_only_file_over_the_cap_transcodes_audio():
    file = MediaFacts(container="mp4", bitrate=1_000_000, video=None, audio=(AAC,))

    decision = decide(
        file,
        builtin_profile("chromium"),
        audio_stream=None,
        subtitle_stream=None,
        max_bitrate=128_000,
    )

    assert (decision.method, decision.transcode_video, decision.transcode_audio) == (
        TRANSCODE,
        False,
        True,
    )


def test_unknown_profile_name_lists_the_built_in_ones():
    with pytest.raises(
        KeyError, match=r"unknown device profile 'roku'; built-in profiles: android, chromium"
    ):
        builtin_profile("roku")
