import pytest

from media.hls.ladder import build_ladder, h264_codecs, h264_level
from media.playback import AudioFacts, MediaFacts, VideoFacts, builtin_profile, decide
from media.playback.profiles import DeviceProfile, VideoCodecLimits

HEVC_4K = VideoFacts(0, "hevc", "Main 10", 153, 10, 3840, 2160, 23.976, None, 20_000_000)
AAC = AudioFacts(1, "aac", 2, 160_000, "eng", True)
DTS = AudioFacts(1, "dts", 6, 1_536_000, "eng", True)


def _ladder(video, audio=(AAC,), profile="chromium", max_bitrate=None, container="mkv"):
    facts = MediaFacts(container=container, bitrate=None, video=video, audio=audio)
    device = builtin_profile(profile) if isinstance(profile, str) else profile
    decision = decide(facts, device, audio_stream=None, subtitle_stream=None, max_bitrate=None)
    return build_ladder(facts, device, decision, max_bitrate=max_bitrate)


def _rows(variants):
    return [(v.name, v.width, v.height, v.video_bitrate, v.codecs, v.frame_rate) for v in variants]


def test_a_4k_hevc_source_gets_the_full_h264_ladder_with_its_aac_copied():
    ladder = _ladder(HEVC_4K)

    assert _rows(ladder) == [
        ("2160p", 3840, 2160, 16_000_000, "avc1.640033,mp4a.40.2", 23.976),
        ("1080p", 1920, 1080, 6_000_000, "avc1.640028,mp4a.40.2", 23.976),
        ("720p", 1280, 720, 3_000_000, "avc1.64001f,mp4a.40.2", 23.976),
        ("480p", 854, 480, 1_500_000, "avc1.64001e,mp4a.40.2", 23.976),
        ("360p", 640, 360, 800_000, "avc1.64001e,mp4a.40.2", 23.976),
    ]
    assert {(v.video_codec, v.copy_video, v.audio_codec, v.copy_audio) for v in ladder} == {
        ("h264", False, "aac", True)
    }
    assert {v.audio_bitrate for v in ladder} == {160_000}


def test_safari_h264_level_42_leaves_out_2160p():
    ladder = _ladder(HEVC_4K, audio=(DTS,), profile="safari")

    assert [v.name for v in ladder] == ["1080p", "720p", "480p", "360p"]
    assert ladder[0].codecs == "avc1.640028,mp4a.40.2"
    assert (ladder[0].audio_codec, ladder[0].audio_bitrate, ladder[0].copy_audio) == (
        "aac",
        128_000,
        False,
    )


def test_a_source_between_rungs_tops_the_ladder_at_its_own_size_with_bits_by_pixels():
    video = VideoFacts(0, "hevc", "Main", 120, 8, 1280, 800, 24.0)

    assert _rows(_ladder(video)) == [
        ("800p", 1280, 800, 3_333_000, "avc1.640020,mp4a.40.2", 24.0),
        ("720p", 1152, 720, 2_700_000, "avc1.64001f,mp4a.40.2", 24.0),
        ("480p", 768, 480, 1_349_000, "avc1.64001e,mp4a.40.2", 24.0),
        ("360p", 576, 360, 720_000, "avc1.640016,mp4a.40.2", 24.0),
    ]


def test_an_odd_sized_scope_source_is_never_upscaled():
    video = VideoFacts(0, "mpeg4", None, None, 8, 1920, 817, 25.0)

    ladder = _ladder(video)

    assert [(v.name, v.width, v.height) for v in ladder] == [
        ("816p", 1920, 816),
        ("720p", 1692, 720),
        ("480p", 1128, 480),
        ("360p", 846, 360),
    ]


def test_a_source_below_360p_is_a_single_rung_at_its_own_size():
    video = VideoFacts(0, "mpeg4", None, None, 8, 320, 240, 24.0)

    assert _rows(_ladder(video)) == [("240p", 320, 240, 267_000, "avc1.64000d,mp4a.40.2", 24.0)]


def test_profile_resolution_and_frame_rate_limits_cap_the_top_and_halve_60_fps():
    profile = DeviceProfile(
        name="tv",
        containers=frozenset({"mpegts"}),
        video_codecs=(VideoCodecLimits("h264", None, 4.1, 8, frozenset(), 1280, 720, 30.0),),
        audio_codecs=(),
    )
    video = VideoFacts(0, "hevc", "Main", 123, 8, 1920, 1080, 59.94)

    assert _rows(_ladder(video, audio=(), profile=profile)) == [
        ("720p", 1280, 720, 3_000_000, "avc1.64001f", 29.97),
        ("480p", 854, 480, 1_500_000, "avc1.64001f", 29.97),
        ("360p", 640, 360, 800_000, "avc1.64001e", 29.97),
    ]


def test_a_level_limit_halves_the_frame_rate_before_dropping_a_rung():
    # The DLNA profile allows 60 fps but only level 4.1: 1080p60 needs 4.2, 1080p30 fits 4.0.
    video = VideoFacts(0, "hevc", "Main", 123, 8, 1920, 1080, 60.0)

    ladder = _ladder(video, audio=(), profile="dlna")

    assert _rows(ladder)[:2] == [
        ("1080p", 1920, 1080, 6_000_000, "avc1.640028", 30.0),
        ("720p", 1280, 720, 3_000_000, "avc1.640020", 60.0),
    ]


def test_max_bitrate_drops_rungs_above_it():
    ladder = _ladder(HEVC_4K, max_bitrate=3_200_000)

    assert [(v.name, v.video_bitrate + v.audio_bitrate) for v in ladder] == [
        ("720p", 3_160_000),
        ("480p", 1_660_000),
        ("360p", 960_000),
    ]


def test_a_cap_below_every_rung_keeps_360p_squeezed_to_fit():
    ladder = _ladder(HEVC_4K, max_bitrate=500_000)

    assert [(v.name, v.video_bitrate, v.audio_bitrate) for v in ladder] == [
        ("360p", 340_000, 160_000)
    ]


def test_the_profile_bitrate_cap_counts_too():
    profile = DeviceProfile(
        name="capped",
        containers=frozenset({"mp4"}),
        video_codecs=(VideoCodecLimits("h264"),),
        audio_codecs=(),
        max_bitrate=2_000_000,
    )

    assert [v.name for v in _ladder(HEVC_4K, audio=(), profile=profile)] == ["480p", "360p"]


def test_only_the_container_wrong_gives_one_stream_copy_variant():
    video = VideoFacts(0, "h264", "High", 41, 8, 1920, 1080, 23.976, None, 8_000_000)
    ac3 = AudioFacts(1, "ac3", 6, 640_000, "eng", True)

    ladder = _ladder(video, audio=(ac3,), profile="safari", container="mkv")

    assert len(ladder) == 1
    source = ladder[0]
    assert (source.name, source.width, source.height, source.frame_rate) == (
        "source",
        1920,
        1080,
        23.976,
    )
    assert (source.video_codec, source.copy_video, source.video_bitrate) == (
        "h264",
        True,
        8_000_000,
    )
    assert (source.audio_codec, source.copy_audio, source.audio_bitrate) == ("ac3", True, 640_000)
    assert source.codecs == "avc1.640029,ac-3"


def test_a_hevc_source_is_never_copied_into_mpegts():
    video = VideoFacts(0, "hevc", "Main 10", 150, 10, 3840, 2160, 23.976, "HDR10", 15_000_000)

    ladder = _ladder(video, audio=(DTS,), profile="safari", container="mp4")

    assert ladder and not any(v.copy_video for v in ladder)
    assert all(v.codecs.startswith("avc1.64") for v in ladder)


def test_a_copied_video_that_mpegts_cannot_carry_is_transcoded_instead():
    vp9 = VideoFacts(0, "vp9", "Profile 0", None, 8, 1280, 720, 30.0)
    opus = AudioFacts(1, "opus", 2, 128_000, None, True)

    ladder = _ladder(vp9, audio=(opus,), profile="android", container="avi")

    assert [(v.name, v.copy_video, v.codecs) for v in ladder] == [
        ("720p", False, "avc1.64001f,mp4a.40.2"),
        ("480p", False, "avc1.64001f,mp4a.40.2"),
        ("360p", False, "avc1.64001e,mp4a.40.2"),
    ]


@pytest.mark.parametrize(
    ("codec", "expected"),
    [("aac", "mp4a.40.2"), ("ac3", "ac-3"), ("eac3", "ec-3"), ("mp3", "mp4a.40.34")],
)
def test_audio_codecs_mpegts_carries_are_copied_with_their_codecs_entry(codec, expected):
    video = VideoFacts(0, "h264", "Main", 31, 8, 1280, 720, 25.0)
    audio = AudioFacts(1, codec, 2, 192_000, None, True)

    ladder = _ladder(video, audio=(audio,), profile="kodi", container="avi")

    assert [(v.codecs, v.copy_audio) for v in ladder] == [(f"avc1.4d001f,{expected}", True)]


def test_a_file_without_video_has_no_ladder():
    facts = MediaFacts(container="mp3", bitrate=None, video=None, audio=(AAC,))
    profile = builtin_profile("dlna")
    decision = decide(facts, profile, audio_stream=None, subtitle_stream=None, max_bitrate=None)

    with pytest.raises(ValueError, match="needs a video stream"):
        build_ladder(facts, profile, decision)


@pytest.mark.parametrize(
    ("width", "height", "fps", "level"),
    [
        (1280, 720, 30.0, 31),
        (1920, 1080, 30.0, 40),
        (1920, 1080, 60.0, 42),
        (3840, 2160, 30.0, 51),
        (3840, 2160, 60.0, 52),
        (640, 360, 30.0, 30),
        (1280, 720, None, 31),
    ],
)
def test_h264_level_follows_table_a1(width, height, fps, level):
    assert h264_level(width, height, fps) == level


@pytest.mark.parametrize(
    ("profile", "level", "expected"),
    [
        ("Constrained Baseline", 30, "avc1.42e01e"),
        ("Baseline", 30, "avc1.42001e"),
        ("Main", 31, "avc1.4d001f"),
        ("High", 41, "avc1.640029"),
        ("High 10", 51, "avc1.6e0033"),
        (None, 40, "avc1.640028"),
    ],
)
def test_h264_codecs_strings(profile, level, expected):
    assert h264_codecs(profile, level) == expected
