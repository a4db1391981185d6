"""Burning a real DVD bitmap subtitle track into transcoded segments: where and when the caption
shows, that the rest of the picture is left alone, restarts mid-caption, and a missing stream."""

from __future__ import annotations

import math
from pathlib import Path

import av
import pytest
from PIL import ImageChops, ImageStat

from media.hls.burn_in import SubtitleOverlay
from media.hls.transcode import OFFSET_SECONDS, TranscodeError, transcode_segments
from media.hls.variants import SegmentPlan, Variant
from tests.support.media_files import add_dvd_subtitle, make_video

PLAN = SegmentPlan(starts=(0.0, 6.0, 12.0), durations=(6.0, 6.0, 2.0))
VARIANT = Variant(
    name="180p",
    width=320,
    height=180,
    video_bitrate=600_000,
    audio_bitrate=0,
    video_codec="h264",
    audio_codec=None,
    copy_video=False,
    copy_audio=False,
    codecs="avc1.64000d",
)
BOX = (200, 280, 240, 60)  # in the 640x360 source: x, y, width, height
SCALED = (100, 140, 220, 170)  # the same box in the 320x180 variant: left, top, right, bottom
INNER = (SCALED[0] + 4, SCALED[1] + 4, SCALED[2] - 4, SCALED[3] - 4)  # clear of edge ringing
CUES = [(1.0, 3.0, BOX), (5.0, 8.0, BOX)]  # the second one spans the boundary at 6 s


def _on_screen(seconds: float) -> bool:
    return any(start <= seconds < end for start, end, _ in CUES)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("burn-source")
    video = make_video(folder / "plain.mkv", seconds=14, width=640, height=360, audio=None)
    return add_dvd_subtitle(video, folder / "subtitled.mkv", CUES)


def _pictures(out: Path, segments: range) -> dict[float, av.VideoFrame]:
    """Decoded frames by source time (seconds, rounded to the millisecond)."""
    frames = {}
    for number in segments:
        with av.open(str(out / f"seg_{number:05d}.ts")) as container:
            for frame in container.decode(video=0):
                frames[round(float(frame.time or 0) - OFFSET_SECONDS, 3)] = frame
    return frames


@pytest.fixture(scope="module")
def plain(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[float, av.VideoFrame]:
    out = tmp_path_factory.mktemp("plain")
    transcode_segments(str(source), str(out), VARIANT, PLAN)
    return _pictures(out, range(PLAN.count))


@pytest.fixture(scope="module")
def burnt(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[float, av.VideoFrame]:
    out = tmp_path_factory.mktemp("burnt")
    transcode_segments(str(source), str(out), VARIANT, PLAN, burn_subtitle_index=1)
    return _pictures(out, range(PLAN.count))


def _box_luma(frame: av.VideoFrame) -> float:
    luma = frame.to_image().convert("L").crop(INNER)
    return float(ImageStat.Stat(luma).mean[0])


def _psnr(a: av.VideoFrame, b: av.VideoFrame) -> float:
    difference = ImageChops.difference(a.to_image().convert("L"), b.to_image().convert("L"))
    squares = sum(value * value * count for value, count in enumerate(difference.histogram()))
    mse = squares / (a.width * a.height)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def test_the_caption_is_white_in_its_box_while_on_screen(
    plain: dict[float, av.VideoFrame], burnt: dict[float, av.VideoFrame]
) -> None:
    assert plain.keys() == burnt.keys()
    shown = [t for t in burnt if _on_screen(t)]
    assert len(shown) == 5 * 24
    for seconds in shown:
        assert _box_luma(burnt[seconds]) > 245, seconds  # full-range white after the encode
        assert _box_luma(plain[seconds]) < 200, seconds  # the gradient underneath


def test_frames_without_a_caption_are_unchanged(
    plain: dict[float, av.VideoFrame], burnt: dict[float, av.VideoFrame]
) -> None:
    hidden = [t for t in burnt if not _on_screen(t)]
    assert len(hidden) == 9 * 24
    assert min(_psnr(plain[t], burnt[t]) for t in hidden) > 40


def test_a_restart_inside_a_caption_still_shows_it(source: Path, tmp_path: Path) -> None:
    transcode_segments(
        str(source), str(tmp_path), VARIANT, PLAN, start_segment=1, burn_subtitle_index=1
    )
    frames = _pictures(tmp_path, range(1, PLAN.count))
    assert all(_box_luma(frames[t]) > 245 for t in frames if t < 8.0)
    assert all(_box_luma(frames[t]) < 200 for t in frames if t >= 8.0)
    assert len([t for t in frames if t < 8.0]) == 2 * 24


def test_the_overlay_paints_exact_colours_on_a_copy_with_the_same_timing(source: Path) -> None:
    overlay = SubtitleOverlay(str(source), 1)
    try:
        with av.open(str(source)) as container:
            frames = {round(float(f.time or 0), 3): f for f in container.decode(video=0)}
        before = overlay.apply(frames[0.5], 0.5)
        during = overlay.apply(frames[1.5], 1.5)
    finally:
        overlay.close()
    assert before is frames[0.5]
    assert during is not frames[1.5]
    assert (during.pts, during.time_base) == (frames[1.5].pts, frames[1.5].time_base)
    x, y, width, height = BOX
    planes = [bytes(plane) for plane in during.planes]
    line = during.planes[0].line_size
    assert {planes[0][row * line + x + width // 2] for row in range(y, y + height)} == {235}
    chroma = during.planes[1].line_size
    assert planes[1][(y // 2 + 5) * chroma + x // 2 + 5] == 128
    assert planes[0][(y - 1) * line + x] == bytes(frames[1.5].planes[0])[(y - 1) * line + x]


def test_a_missing_or_textual_stream_is_refused(source: Path, tmp_path: Path) -> None:
    for index in (7, 0):
        with pytest.raises(TranscodeError) as raised:
            transcode_segments(str(source), str(tmp_path), VARIANT, PLAN, burn_subtitle_index=index)
        assert raised.value.code == "STREAM_NOT_FOUND"
    assert list(tmp_path.iterdir()) == []
