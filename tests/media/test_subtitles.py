"""Text subtitles to WebVTT: embedded tracks of a real Matroska file made with PyAV, and sidecars
in the encodings people actually have on disk."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from media.subtitles import (
    NotTextSubtitle,
    SubtitleTooLarge,
    UnreadableSubtitle,
    is_text_subtitle,
    to_webvtt,
)
from tests.support.media_files import make_video

SRT = (
    "1\r\n00:00:03,000 --> 00:00:04,250\r\nSecond <i>line</i> & more\r\n\r\n"
    "2\r\n00:00:00,500 --> 00:00:01,000\r\n<b>First</b> 1 < 2 > 0\r\nand a break\r\n\r\n"
)
SRT_WEBVTT = (
    "WEBVTT\n\n"
    "00:00:00.500 --> 00:00:01.000\n<b>First</b> 1 &lt; 2 &gt; 0\nand a break\n\n"
    "00:00:03.000 --> 00:00:04.250\nSecond <i>line</i> &amp; more\n"
)
ASS_STYLES = (
    "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
    "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
    "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
)
ASS = (
    ASS_STYLES
    + r"""Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:05.00,0:00:06.50,Default,,0,0,0,,Later, {\b1}bold{\b0}\Nnext, with commas
Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\an8\pos(10,10)\bord2}Top <x> & {\i1}y
Comment: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,not shown
Dialogue: 0,1:02:03.45,1:02:04.00,Default,,0,0,0,,{\p1}m 0 0 l 10 0{\p0}\hafter drawing
"""
)
ASS_WEBVTT = (
    "WEBVTT\n\n"
    "00:00:01.000 --> 00:00:02.000\nTop &lt;x&gt; &amp; <i>y</i>\n\n"
    "00:00:05.000 --> 00:00:06.500\nLater, <b>bold</b>\nnext, with commas\n\n"
    "01:02:03.450 --> 01:02:04.000\n\u00a0after drawing\n"
)


def make_subtitled_video(path: Path, srt: str = SRT, ass: str = ASS) -> Path:
    """A one-second MKV: stream 0 video, 1 SubRip, 2 ASS, muxed from sidecar files opened as
    input containers (PyAV copies their packets; nothing is encoded but the video)."""
    work = path.parent
    video = make_video(work / f"{path.stem}.video.mkv", seconds=1, audio=None)
    (work / f"{path.stem}.track.srt").write_text(srt, encoding="utf-8")
    (work / f"{path.stem}.track.ass").write_text(ass, encoding="utf-8")
    sources = [
        av.open(str(video)),
        av.open(str(work / f"{path.stem}.track.srt")),
        av.open(str(work / f"{path.stem}.track.ass")),
    ]
    try:
        with av.open(str(path), "w", format="matroska") as out:
            targets = [out.add_stream_from_template(source.streams[0]) for source in sources]
            for source, target in zip(sources, targets, strict=True):
                for packet in source.demux():
                    if packet.dts is None:
                        continue
                    packet.stream = target
                    out.mux(packet)
    finally:
        for source in sources:
            source.close()
    return path


def make_bitmap_video(path: Path) -> Path:
    """An MKV whose stream 1 is a DVD (bitmap) subtitle track."""
    with av.open(str(path), "w", format="matroska") as out:
        video = out.add_stream("h264", rate=24)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        bitmap = out.add_stream("dvdsub")
        frame = av.VideoFrame(64, 64, "yuv420p")
        for index in range(3):
            frame.pts = index
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        packet = av.Packet(b"\x00\x10" + b"\x00" * 14)
        packet.stream = bitmap
        packet.pts = packet.dts = 0
        packet.duration = 100
        out.mux(packet)
    return path


def test_embedded_subrip_and_ass_tracks(tmp_path: Path) -> None:
    film = make_subtitled_video(tmp_path / "film.mkv")
    assert to_webvtt(film, 1) == SRT_WEBVTT
    assert to_webvtt(str(film), 2) == ASS_WEBVTT


def test_a_stream_that_is_not_a_subtitle_or_not_there_is_unreadable(tmp_path: Path) -> None:
    film = make_subtitled_video(tmp_path / "film.mkv")
    with pytest.raises(UnreadableSubtitle, match="stream 0 is not a subtitle stream"):
        to_webvtt(film, 0)
    with pytest.raises(UnreadableSubtitle, match="the file has no stream 9"):
        to_webvtt(film, 9)
    with pytest.raises(FileNotFoundError):
        to_webvtt(tmp_path / "gone.mkv", 1)


def test_sidecars_srt_ass_and_vtt(tmp_path: Path) -> None:
    (tmp_path / "a.srt").write_text(SRT, encoding="utf-8")
    (tmp_path / "a.ass").write_text(ASS, encoding="utf-8")
    (tmp_path / "a.ssa").write_text(ASS, encoding="utf-8")
    (tmp_path / "a.vtt").write_text(
        "WEBVTT\n\n00:01:00.000 --> 00:01:02.000 align:start\n- A <i>b</i> &amp; c\n- D\n"
    )
    assert to_webvtt(tmp_path / "a.srt") == SRT_WEBVTT
    assert to_webvtt(tmp_path / "a.ass") == ASS_WEBVTT
    assert to_webvtt(tmp_path / "a.ssa") == ASS_WEBVTT
    assert to_webvtt(tmp_path / "a.vtt") == (
        "WEBVTT\n\n00:01:00.000 --> 00:01:02.000\n- A <i>b</i> &amp; c\n- D\n"
    )


def one_cue(text: str) -> str:
    return f"1\n00:00:01,000 --> 00:00:02,000\n{text}\n"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (one_cue("Café déjà vu").encode(), "Café déjà vu"),
        (
            b"\xef\xbb\xbf" + one_cue("Café \u2013 \u201cquoted\u201d").encode(),
            "Café \u2013 \u201cquoted\u201d",
        ),
        (
            one_cue("Café \u2013 \u2018déjà\u2019 vu").encode("cp1252"),
            "Café \u2013 \u2018déjà\u2019 vu",
        ),
        (one_cue("Ça va?").encode("utf-16"), "Ça va?"),
        (one_cue("café \x81").encode("latin-1"), "café \x81"),  # 0x81: not cp1252
    ],
    ids=["utf-8", "utf-8 with BOM", "cp1252", "utf-16 with BOM", "latin-1"],
)
def test_sidecar_encodings(tmp_path: Path, data: bytes, text: str) -> None:
    sidecar = tmp_path / "Movie.fr.srt"
    sidecar.write_bytes(data)
    assert to_webvtt(sidecar) == f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n{text}\n"


def test_limits_refuse_absurd_tracks(tmp_path: Path) -> None:
    (tmp_path / "a.srt").write_text(SRT, encoding="utf-8")
    with pytest.raises(SubtitleTooLarge, match="more than 1 cues"):
        to_webvtt(tmp_path / "a.srt", max_cues=1)
    with pytest.raises(SubtitleTooLarge, match="larger than 60 bytes"):
        to_webvtt(tmp_path / "a.srt", max_bytes=60)
    with pytest.raises(SubtitleTooLarge, match="subtitle file is larger than 20 bytes"):
        to_webvtt(tmp_path / "a.srt", max_bytes=20)
    film = make_subtitled_video(tmp_path / "film.mkv")
    with pytest.raises(SubtitleTooLarge):
        to_webvtt(film, 1, max_cues=1)
    assert issubclass(SubtitleTooLarge, UnreadableSubtitle)


def test_bitmap_tracks_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotTextSubtitle, match="dvdsub subtitles are pictures"):
        to_webvtt(make_bitmap_video(tmp_path / "dvd.mkv"), 1)
    (tmp_path / "a.sup").write_bytes(b"PG\x00\x00")
    with pytest.raises(NotTextSubtitle):
        to_webvtt(tmp_path / "a.sup")


def test_corrupt_and_empty_sidecars(tmp_path: Path) -> None:
    (tmp_path / "binary.srt").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(UnreadableSubtitle, match="not text"):
        to_webvtt(tmp_path / "binary.srt")
    (tmp_path / "prose.srt").write_text("no cues here, just words\n")
    with pytest.raises(UnreadableSubtitle, match="no readable cues"):
        to_webvtt(tmp_path / "prose.srt")
    (tmp_path / "empty.srt").write_bytes(b"\xef\xbb\xbf\r\n")
    assert to_webvtt(tmp_path / "empty.srt") == "WEBVTT\n"


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("subrip", True),
        ("srt", True),
        ("ass", True),
        ("SSA", True),
        ("webvtt", True),
        ("mov_text", True),
        ("text", True),
        ("hdmv_pgs_subtitle", False),
        ("dvd_subtitle", False),
        ("dvb_subtitle", False),
        ("xsub", False),
        (None, False),
    ],
)
def test_is_text_subtitle(codec: str | None, expected: bool) -> None:
    assert is_text_subtitle(codec) is expected
