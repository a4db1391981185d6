# ruff: noqa: E501  (one invalid profile per line)

import pytest

from media.playback import (
    BUILTIN_PROFILES,
    AudioCodecLimits,
    AudioFacts,
    MediaFacts,
    PlaybackMethod,
    VideoCodecLimits,
    VideoFacts,
    decide,
    profile_from_dict,
)

VALID = {
    "name": "living-room tv",
    "containers": ["MKV", "ts"],
    "video_codecs": [
        {
            "codec": "h265",
            "profiles": ["Main", "Main 10"],
            "max_level": 5.1,
            "max_bit_depth": 10,
            "hdr_types": ["hdr10"],
            "max_width": 3840,
            "max_height": 2160,
            "max_frame_rate": 60,
        }
    ],
    "audio_codecs": [{"codec": "E-AC3", "max_channels": 8}],
    "text_subtitles": ["srt"],
    "image_subtitles": ["hdmv_pgs_subtitle"],
    "max_bitrate": 80_000_000,
    "hls_fmp4": True,
    "hls_mpegts": False,
}


def test_built_in_profile_names():
    assert sorted(BUILTIN_PROFILES) == [
        "android",
        "chromium",
        "dlna",
        "firefox",
        "ios",
        "kodi",
        "safari",
    ]


def test_custom_profile_is_normalised():
    profile = profile_from_dict(VALID)

    assert profile.name == "living-room tv"
    assert profile.containers == frozenset({"mkv", "mpegts"})
    assert profile.video_codecs == (
        VideoCodecLimits(
            "hevc",
            frozenset({"main", "main 10"}),
            5.1,
            10,
            frozenset({"HDR10"}),
            3840,
            2160,
            60.0,
        ),
    )
    assert profile.audio_codecs == (AudioCodecLimits("eac3", 8),)
    assert profile.text_subtitles == frozenset({"subrip"})
    assert profile.image_subtitles == frozenset({"pgs"})
    assert (profile.max_bitrate, profile.hls_fmp4, profile.hls_mpegts) == (80_000_000, True, False)


def test_custom_profile_decides():
    file = MediaFacts(
        container="matroska",
        bitrate=50_000_000,
        video=VideoFacts(0, "hevc", "Main 10", 153, 10, 3840, 2160, 23.976, "HDR10"),
        audio=(AudioFacts(1, "eac3", 6),),
    )

    decision = decide(
        file, profile_from_dict(VALID), audio_stream=None, subtitle_stream=None, max_bitrate=None
    )

    assert (decision.method, decision.reasons) == (PlaybackMethod.DIRECT_PLAY, ())


def test_custom_profile_defaults():
    profile = profile_from_dict(
        {"name": "minimal", "containers": ["mp4"], "audio_codecs": [{"codec": "aac"}]}
    )

    assert profile.video_codecs == ()
    assert profile.audio_codecs == (AudioCodecLimits("aac", 2),)
    assert profile.text_subtitles == frozenset({"webvtt"})
    assert (profile.max_bitrate, profile.hls_fmp4, profile.hls_mpegts) == (None, True, True)


def _with(**changes):
    return {**VALID, **changes}


def _video_with(**changes):
    return _with(video_codecs=[{**VALID["video_codecs"][0], **changes}])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "profile: must be an object"),
        (_with(colour="red"), "profile: unknown field colour"),
        (_with(name=""), "name: must be a non-empty string of at most 64 characters"),
        (_with(name="x" * 65), "name: must be a non-empty string of at most 64 characters"),
        (_with(containers=[]), "containers: must not be empty"),
        (_with(containers="mp4"), "containers: must be a list"),
        (_with(containers=["mp4", 3]), "containers[1]: must be a non-empty string of at most 64 characters"),
        (_with(video_codecs=[], audio_codecs=[]), "video_codecs: at least one video or audio codec is required"),
        (_with(video_codecs=["h264"]), "video_codecs[0]: must be an object"),
        (_video_with(codec=None), "video_codecs[0].codec: must be a non-empty string of at most 64 characters"),
        (_video_with(max_level="4.1"), "video_codecs[0].max_level: must be a number"),
        (_video_with(max_level=0), "video_codecs[0].max_level: must be between 0.1 and 100"),
        (_video_with(max_level=float("nan")), "video_codecs[0].max_level: must be between 0.1 and 100"),
        (_video_with(max_bit_depth=True), "video_codecs[0].max_bit_depth: must be an integer"),
        (_video_with(max_bit_depth=4), "video_codecs[0].max_bit_depth: must be between 8 and 16"),
        (_video_with(hdr_types=["HDR10+"]), "video_codecs[0].hdr_types: unknown HDR10+; expected some of DOLBY_VISION, HDR10, HLG"),
        (_video_with(max_width=100_000), "video_codecs[0].max_width: must be between 16 and 16384"),
        (_video_with(max_frame_rate=-1), "video_codecs[0].max_frame_rate: must be between 1 and 1000"),
        (_video_with(profiles=[]), "video_codecs[0].profiles: must not be empty"),
        (_video_with(tier="high"), "video_codecs[0]: unknown field tier"),
        (_with(video_codecs=[{"codec": "h264"}, {"codec": "avc"}]), "video_codecs: h264 is listed twice"),
        (_with(audio_codecs=[{"codec": "aac", "max_channels": 0}]), "audio_codecs[0].max_channels: must be between 1 and 32"),
        (_with(audio_codecs=[{"codec": "aac", "max_channels": 2.5}]), "audio_codecs[0].max_channels: must be an integer"),
        (_with(max_bitrate=-5), "max_bitrate: must be between 1 and 1000000000000"),
        (_with(hls_fmp4="yes"), "hls_fmp4: must be true or false"),
        (_with(containers=["mp4"] * 65), "containers: at most 64 entries"),
    ],
)  # fmt: skip
def test_custom_profile_validation_errors(data, message):
    with pytest.raises(ValueError) as raised:
        profile_from_dict(data)

    assert str(raised.value) == message
