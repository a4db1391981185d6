"""Trickplay sheets from real files: a 35-second 640x360 H.264 clip at 25 fps, whose x264 default
GOP of 250 frames puts keyframes at exactly 0, 10, 20 and 30 s — so every thumbnail's source is
known, and "keyframes only" is countable."""

from __future__ import annotations

import os
import re
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from media.trickplay import (
    NoVideoStream,
    TrickplayCancelled,
    TrickplayError,
    make_trickplay,
)
from tests.support.media_files import make_audio, make_text, make_truncated, make_video

CUE = re.compile(r"^(\S+) --> (\S+)\n(sheet_\d{3}\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$", re.M)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trickplay")
    return make_video(folder / "clip.mkv", seconds=35, width=640, height=360, fps=25)


def keyframe_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            float(packet.pts * stream.time_base)
            for packet in container.demux(stream)
            if packet.is_keyframe and packet.pts is not None
        ]


def cues(folder: Path) -> list[tuple[str, str, str, int, int, int, int]]:
    text = (folder / "index.vtt").read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n")
    return [(a, b, s, int(x), int(y), int(w), int(h)) for a, b, s, x, y, w, h in CUE.findall(text)]


def tile(folder: Path, cue: tuple[str, str, str, int, int, int, int]) -> Image.Image:
    _, _, sheet, x, y, w, h = cue
    with Image.open(folder / sheet) as image:
        return image.convert("L").crop((x, y, x + w, y + h))


def difference(first: Image.Image, second: Image.Image) -> float:
    return float(ImageStat.Stat(ImageChops.difference(first, second)).mean[0])


def test_one_sheet_of_four_tiles_at_ten_seconds(clip: Path, tmp_path: Path) -> None:
    assert keyframe_times(clip) == [0.0, 10.0, 20.0, 30.0]
    out = tmp_path / "out"

    result = make_trickplay(str(clip), str(out))

    assert (result.width, result.height, result.columns, result.rows) == (320, 180, 10, 10)
    assert (result.sheet_count, result.thumbnail_count, result.interval_ms) == (1, 4, 10_000)
    assert result.decoded_frames == 4
    assert sorted(os.listdir(out)) == ["index.vtt", "sheet_000.jpg"]
    with Image.open(out / "sheet_000.jpg") as sheet:
        assert (sheet.format, sheet.size) == ("JPEG", (1280, 180))  # one row, cropped to 4
    assert cues(out) == [
        ("00:00:00.000", "00:00:10.000", "sheet_000.jpg", 0, 0, 320, 180),
        ("00:00:10.000", "00:00:20.000", "sheet_000.jpg", 320, 0, 320, 180),
        ("00:00:20.000", "00:00:30.000", "sheet_000.jpg", 640, 0, 320, 180),
        ("00:00:30.000", "00:00:35.021", "sheet_000.jpg", 960, 0, 320, 180),
    ]
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging folder left behind


def test_marks_between_keyframes_take_the_next_keyframe(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    result = make_trickplay(str(clip), str(out), interval_seconds=2.5, columns=3, rows=3)

    assert (result.sheet_count, result.thumbnail_count) == (2, 14)
    assert result.decoded_frames <= len(keyframe_times(clip))
    with Image.open(out / "sheet_000.jpg") as first, Image.open(out / "sheet_001.jpg") as last:
        assert (first.size, last.size) == ((960, 540), (960, 360))  # 5 tiles: two rows
    found = cues(out)
    assert len(found) == 14
    for number, (begin, end, sheet, x, y, w, h) in enumerate(found):
        position = number % 9
        assert begin == f"00:00:{number * 2.5:06.3f}"
        assert end == ("00:00:35.021" if number == 13 else f"00:00:{(number + 1) * 2.5:06.3f}")
        assert (sheet, x, y, w, h) == (
            f"sheet_{number // 9:03d}.jpg",
            position % 3 * 320,
            position // 3 * 180,
            320,
            180,
        )
    tiles = [tile(out, cue) for cue in found]
    # Marks 2.5/5/7.5 show the keyframe at 10 s; marks 32.5 and 35 the last one (30 s).
    for number, source in ((1, 4), (2, 4), (3, 4), (5, 8), (9, 12), (13, 12)):
        assert difference(tiles[number], tiles[source]) < 3, number
    assert difference(tiles[0], tiles[4]) > 20


def test_height_keeps_the_aspect_ratio_and_is_even(tmp_path: Path) -> None:
    source = make_video(tmp_path / "four-three.mkv", seconds=1, width=320, height=240)

    result = make_trickplay(str(source), str(tmp_path / "out"), width=100)

    assert (result.width, result.height, result.thumbnail_count) == (100, 76, 1)


def test_regenerating_replaces_the_whole_folder(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "sheet_007.jpg").write_bytes(b"stale")

    make_trickplay(str(clip), str(out), interval_seconds=20)

    assert sorted(os.listdir(out)) == ["index.vtt", "sheet_000.jpg"]
    assert len(cues(out)) == 2
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_audio_only_files_have_no_video(tmp_path: Path) -> None:
    source = make_audio(tmp_path / "song.flac", seconds=1)

    with pytest.raises(NoVideoStream, match="no video stream"):
        make_trickplay(str(source), str(tmp_path / "out"))

    assert sorted(os.listdir(tmp_path)) == ["song.flac"]


@pytest.mark.parametrize("kind", ["text", "truncated"])
def test_corrupt_input_fails_without_output(kind: str, tmp_path: Path) -> None:
    source = (
        make_text(tmp_path / "notes.mkv")
        if kind == "text"
        else make_truncated(tmp_path / "cut.mp4", fraction=0.5)
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.vtt").write_text("WEBVTT\n\nprevious\n")

    with pytest.raises(TrickplayError, match="truncated or corrupt"):
        make_trickplay(str(source), str(out))

    assert sorted(os.listdir(tmp_path)) == sorted([source.name, "out"])
    assert (out / "index.vtt").read_text() == "WEBVTT\n\nprevious\n"  # the old set stays


def test_should_stop_cancels_without_output(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(TrickplayCancelled):
        make_trickplay(str(clip), str(tmp_path / "out"), should_stop=lambda: True)

    assert os.listdir(tmp_path) == []


def test_nonsense_options_are_refused(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        make_trickplay(str(clip), str(tmp_path / "out"), interval_seconds=0)
