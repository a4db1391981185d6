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
    facts_from_probe,
    facts_from_rows,
)
from media.probe import probe_file
from tests.support.media_files import make_video


def test_facts_from_rows_uses_catalog_columns_in_stream_order():
    file_row = {"container": "mkv", "bitrate": 4_000_000, "duration_ms": 1000}
    stream_rows = [
        {
            "stream_index": 2,
            "type": "subtitle",
            "codec": "subrip",
            "language": "fre",
            "is_default": False,
            "is_forced": True,
            "is_external": False,
        },
        {
            "stream_index": 3,
            "type": "subtitle",
            "codec": "hdmv_pgs_subtitle",
            "language": None,
            "is_default": False,
            "is_forced": False,
            "is_external": True,
        },
        {
            "stream_index": 0,
            "type": "video",
            "codec": "h264",
            "profile": "High",
            "level": 41,
            "bit_depth": 8,
            "width": 1920,
            "height": 1080,
            "frame_rate": 23.976,
            "hdr_type": None,
            "bitrate": None,
        },
        {
            "stream_index": 1,
            "type": "audio",
            "codec": "ac3",
            "channels": 6,
            "bitrate": 640_000,
            "language": "eng",
            "is_default": True,
        },
        {"stream_index": 4, "type": "attachment", "codec": "ttf"},
    ]

    facts = facts_from_rows(file_row, stream_rows)

    assert facts == MediaFacts(
        container="mkv",
        bitrate=4_000_000,
        video=VideoFacts(0, "h264", "High", 41, 8, 1920, 1080, 23.976, None, None),
        audio=(AudioFacts(1, "ac3", 6, 640_000, "eng", True),),
        subtitles=(
            SubtitleFacts(2, "subrip", False, "fre", True, False),
            SubtitleFacts(3, "hdmv_pgs_subtitle", True, None, False, False),
        ),
    )


def test_facts_from_probe_of_a_real_mkv(tmp_path):
    path = make_video(tmp_path / "clip.mkv", subtitle=True, subtitle_language="eng")

    facts = facts_from_probe(probe_file(str(path)))

    assert facts.container == "mkv"
    assert facts.video == VideoFacts(
        0, "h264", "Constrained Baseline", 13, 8, 320, 240, 24.0, None, facts.video.bitrate
    )
    assert [(a.index, a.codec, a.channels) for a in facts.audio] == [(1, "aac", 2)]
    assert facts.subtitles == (SubtitleFacts(2, "subrip", False, "eng", False, False),)


def test_probed_mkv_remuxes_for_chromium_with_webvtt_subtitles(tmp_path):
    path = make_video(tmp_path / "clip.mkv", subtitle=True)
    facts = facts_from_probe(probe_file(str(path)))

    decision = decide(
        facts, builtin_profile("chromium"), audio_stream=None, subtitle_stream=2, max_bitrate=None
    )

    assert decision.method is PlaybackMethod.REMUX
    assert decision.reasons == (Reason.CONTAINER_UNSUPPORTED, Reason.SUBTITLE_FORMAT_UNSUPPORTED)
    assert (decision.target_container, decision.subtitle_delivery) == (
        "mp4",
        SubtitleDelivery.CONVERT_TO_WEBVTT,
    )


def test_probed_hdr10_hevc_transcodes_on_chromium_and_plays_on_kodi(tmp_path):
    path = make_video(
        tmp_path / "hdr.mkv", codec="hevc", pix_fmt="yuv420p10le", color_trc="smpte2084"
    )
    facts = facts_from_probe(probe_file(str(path)))

    chromium = decide(
        facts,
        builtin_profile("chromium"),
        audio_stream=None,
        subtitle_stream=None,
        max_bitrate=None,
    )
    kodi = decide(
        facts, builtin_profile("kodi"), audio_stream=None, subtitle_stream=None, max_bitrate=None
    )

    assert chromium.method is PlaybackMethod.TRANSCODE
    assert chromium.reasons == (
        Reason.CONTAINER_UNSUPPORTED,
        Reason.VIDEO_CODEC_UNSUPPORTED,
        Reason.HDR_UNSUPPORTED,
    )
    assert (chromium.transcode_video, chromium.transcode_audio) == (True, False)
    assert (kodi.method, kodi.reasons) == (PlaybackMethod.DIRECT_PLAY, ())
