# ruff: noqa: E501  (expected playlist lines read best whole)

import re

import m3u8
import pytest

from media.hls.playlists import (
    SubtitleRendition,
    master_playlist,
    subtitle_playlist,
    variant_playlist,
)
from media.hls.variants import SegmentPlan, Variant

V720 = Variant("720p", 1280, 720, 3_000_000, 128_000, "h264", "aac", False, False, "avc1.64001f,mp4a.40.2", 23.976)  # fmt: skip
V360 = Variant("360p", 640, 360, 800_000, 128_000, "h264", "aac", False, False, "avc1.64001e,mp4a.40.2", 23.976)  # fmt: skip
ENGLISH = SubtitleRendition("English", "en", True, False, True, "subs/2/index.m3u8?t=abc")
FORCED = SubtitleRendition("English (forced)", "en", False, True, True, "subs/3/index.m3u8?t=abc")

# RFC 8216 4.2: an attribute list is AttributeName=AttributeValue pairs separated by commas;
# a value is a quoted-string (no CR, LF or double quote inside), or a token without them.
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",\s]+)')
_TAGS_WITH_ATTRIBUTES = {"#EXT-X-STREAM-INF", "#EXT-X-MEDIA"}


def _parse(text):
    """A strict reader: every tag known, every attribute list fully consumed, URIs after
    STREAM-INF and EXTINF, no blank lines; returns [(tag, value or attributes)] and URIs."""
    assert text.endswith("\n") and "\r" not in text
    lines = text.split("\n")[:-1]
    assert lines[0] == "#EXTM3U"
    entries, uris, expect_uri = [], [], False
    for line in lines[1:]:
        assert line and line == line.strip()
        if expect_uri:
            assert not line.startswith("#"), line
            uris.append(line)
            expect_uri = False
            continue
        tag, _, value = line.partition(":")
        if tag in _TAGS_WITH_ATTRIBUTES:
            pairs = _ATTRIBUTE.findall(value)
            assert ",".join(f"{k}={v}" for k, v in pairs) == value, line
            names = [k for k, _ in pairs]
            assert len(names) == len(set(names)), line
            entries.append((tag, dict(pairs)))
        else:
            assert tag in {
                "#EXT-X-VERSION",
                "#EXT-X-INDEPENDENT-SEGMENTS",
                "#EXT-X-TARGETDURATION",
                "#EXT-X-MEDIA-SEQUENCE",
                "#EXT-X-PLAYLIST-TYPE",
                "#EXTINF",
                "#EXT-X-ENDLIST",
            }, line
            entries.append((tag, value))
        expect_uri = tag in {"#EXT-X-STREAM-INF", "#EXTINF"}
    assert not expect_uri
    return entries, uris


def test_master_playlist_lists_the_variants_best_first():
    text = master_playlist([V720, V360], query="t=abc&e=1")

    assert text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=3753600,AVERAGE-BANDWIDTH=3128000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=23.976\n'
        "720p/index.m3u8?t=abc&e=1\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=1113600,AVERAGE-BANDWIDTH=928000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",FRAME-RATE=23.976\n'
        "360p/index.m3u8?t=abc&e=1\n"
    )
    _entries, uris = _parse(text)
    assert uris == ["720p/index.m3u8?t=abc&e=1", "360p/index.m3u8?t=abc&e=1"]


def test_master_playlist_without_query_or_frame_rate_or_size():
    copy = Variant("source", 0, 0, 0, 0, "h264", None, True, False, "avc1.640028")

    assert master_playlist([copy]).splitlines()[3:] == [
        '#EXT-X-STREAM-INF:BANDWIDTH=0,AVERAGE-BANDWIDTH=0,CODECS="avc1.640028"',
        "source/index.m3u8",
    ]


def test_master_playlist_with_subtitles_names_the_group_on_every_variant():
    text = master_playlist([V720, V360], query="t=abc", subtitles=[ENGLISH, FORCED])

    lines = text.splitlines()
    assert lines[3:5] == [
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="subs/2/index.m3u8?t=abc"',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English (forced)",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=YES,URI="subs/3/index.m3u8?t=abc"',
    ]
    entries, _ = _parse(text)
    assert [attrs["SUBTITLES"] for tag, attrs in entries if tag == "#EXT-X-STREAM-INF"] == [
        '"subs"',
        '"subs"',
    ]


def test_hostile_subtitle_titles_cannot_break_the_playlist():
    evil = SubtitleRendition(
        'Director "cut"\n#EXT-X-ENDLIST\r', "en-US", False, False, False, 'x".vtt\n#EVIL'
    )
    twin = SubtitleRendition('Director "cut"', "not a language!", True, False, False, "y.m3u8")
    another = SubtitleRendition("\n", None, True, False, False, "z.m3u8")

    text = master_playlist([V360], subtitles=[evil, twin, another])

    entries, uris = _parse(text)
    media = [attrs for tag, attrs in entries if tag == "#EXT-X-MEDIA"]
    assert [m["NAME"] for m in media] == [
        '"Director cut #EXT-X-ENDLIST"',
        '"Director cut"',
        '"Subtitles"',
    ]
    assert [m.get("LANGUAGE") for m in media] == ['"en-US"', None, None]
    assert [m["URI"] for m in media] == ['"x%22.vtt%0A#EVIL"', '"y.m3u8"', '"z.m3u8"']
    # Only one DEFAULT=YES in a group; DEFAULT=YES forces AUTOSELECT=YES.
    assert [(m["DEFAULT"], m["AUTOSELECT"]) for m in media] == [
        ("NO", "NO"),
        ("YES", "YES"),
        ("NO", "NO"),
    ]
    assert uris == ["360p/index.m3u8"]


def test_duplicate_subtitle_names_are_numbered():
    a = SubtitleRendition("English", "en", False, False, True, "a.m3u8")

    text = master_playlist([V360], subtitles=[a, a, a])

    assert re.findall(r'NAME="([^"]*)"', text) == ["English", "English (2)", "English (3)"]


def test_variant_playlist_is_a_complete_vod_list():
    plan = SegmentPlan(starts=(0.0, 6.0, 12.0), durations=(6.0, 6.0, 2.5))

    text = variant_playlist(plan, query="t=abc")

    assert text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:6\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXTINF:6.000,\n"
        "seg_00000.ts?t=abc\n"
        "#EXTINF:6.000,\n"
        "seg_00001.ts?t=abc\n"
        "#EXTINF:2.500,\n"
        "seg_00002.ts?t=abc\n"
        "#EXT-X-ENDLIST\n"
    )
    _parse(text)


def test_variant_playlist_target_duration_covers_the_longest_segment():
    plan = SegmentPlan(starts=(0.0, 10.416667), durations=(10.416667, 4.583333))

    lines = variant_playlist(plan).splitlines()

    assert lines[2] == "#EXT-X-TARGETDURATION:11"
    assert lines[5:9] == ["#EXTINF:10.417,", "seg_00000.ts", "#EXTINF:4.583,", "seg_00001.ts"]


def test_subtitle_playlist_is_one_segment_holding_the_whole_file():
    text = subtitle_playlist(5423.48, "subtitles.vtt?t=abc")

    assert text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:5424\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXTINF:5423.480,\n"
        "subtitles.vtt?t=abc\n"
        "#EXT-X-ENDLIST\n"
    )
    _parse(text)


def test_the_m3u8_package_reads_the_playlists_as_written():
    master = m3u8.loads(master_playlist([V720, V360], query="t=1", subtitles=[ENGLISH, FORCED]))
    media = m3u8.loads(variant_playlist(SegmentPlan((0.0, 6.0), (6.0, 1.5)), query="t=1"))

    assert master.is_variant and master.is_independent_segments
    assert [
        (p.uri, p.stream_info.bandwidth, p.stream_info.resolution, p.stream_info.codecs)
        for p in master.playlists
    ] == [
        ("720p/index.m3u8?t=1", 3753600, (1280, 720), "avc1.64001f,mp4a.40.2"),
        ("360p/index.m3u8?t=1", 1113600, (640, 360), "avc1.64001e,mp4a.40.2"),
    ]
    assert [p.stream_info.frame_rate for p in master.playlists] == [23.976, 23.976]
    assert [(m.name, m.default, m.forced, m.uri) for m in master.media] == [
        ("English", "YES", "NO", "subs/2/index.m3u8?t=abc"),
        ("English (forced)", "NO", "YES", "subs/3/index.m3u8?t=abc"),
    ]
    assert (media.playlist_type, media.target_duration, media.is_endlist) == ("vod", 6, True)
    assert [(s.uri, s.duration) for s in media.segments] == [
        ("seg_00000.ts?t=1", 6.0),
        ("seg_00001.ts?t=1", 1.5),
    ]


def test_an_empty_ladder_is_refused():
    with pytest.raises(ValueError):
        master_playlist([])
