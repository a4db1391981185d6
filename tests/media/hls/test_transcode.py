"""The segment encoder against real files: timestamps, keyframes, sync, restarts, copy, failure."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from media.hls.transcode import OFFSET_SECONDS, TranscodeError, transcode_segments
from media.hls.variants import SegmentPlan, Variant
from tests.support.media_files import make_text, make_truncated, make_video

SECONDS = 14.0
FPS = 24
PLAN = SegmentPlan(starts=(0.0, 6.0, 12.0), durations=(6.0, 6.0, 2.0))
VARIANT = Variant(
    name="360p",
    width=640,
    height=360,
    video_bitrate=800_000,
    audio_bitrate=96_000,
    video_codec="h264",
    audio_codec="aac",
    copy_video=False,
    copy_audio=False,
    codecs="avc1.64001e,mp4a.40.2",
)


def _segment(out: Path, number: int) -> Path:
    return out / f"seg_{number:05d}.ts"


def _frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _first_audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        frame = next(container.decode(audio=0))
        return float(frame.pts * frame.time_base)


def _tables_before_media(path: Path) -> set[int]:
    """PIDs of the 188-byte TS packets that come before the first elementary-stream packet."""
    data, pids = path.read_bytes(), set()
    for offset in range(0, len(data), 188):
        pid = int.from_bytes(data[offset + 1 : offset + 3]) & 0x1FFF
        if pid >= 0x100 and pid != 0x1000:
            return pids
        pids.add(pid)
    return pids


def _parameter_sets(path: Path) -> list[bytes]:
    """The SPS and PPS NAL units in front of a segment's first (IDR) picture."""
    with av.open(str(path)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        units = bytes(first).split(b"\x00\x00\x01")
    return [unit.rstrip(b"\x00") for unit in units if unit and unit[0] & 0x1F in (7, 8)]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("source")
    return make_video(folder / "movie.mp4", seconds=SECONDS, width=1280, height=720, fps=FPS)


@pytest.fixture(scope="module")
def from_start(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("from-start")
    transcode_segments(str(source), str(out), VARIANT, PLAN)
    return out


def test_every_segment_decodes_and_together_they_cover_the_source(from_start: Path) -> None:
    counts = [len(_frames(_segment(from_start, n))) for n in range(PLAN.count)]
    heads = [_tables_before_media(_segment(from_start, n)) for n in range(PLAN.count)]

    assert counts == [144, 144, 48]  # 14 s at 24 fps, every frame exactly once
    assert heads == [{0x0000, 0x0011, 0x1000}] * 3  # PAT, SDT, PMT first: decodable alone
    assert sorted(p.name for p in from_start.iterdir()) == [
        "seg_00000.ts",
        "seg_00001.ts",
        "seg_00002.ts",
    ]


def test_each_segment_opens_with_a_keyframe_at_its_plan_start(from_start: Path) -> None:
    for number, start in enumerate(PLAN.starts):
        first = _frames(_segment(from_start, number))[0]

        assert first.key_frame
        assert first.pts is not None
        assert first.pts * first.time_base == Fraction(str(start + OFFSET_SECONDS))
        assert (first.width, first.height) == (640, 360)


def test_audio_starts_with_the_video_in_every_segment(from_start: Path) -> None:
    for number, start in enumerate(PLAN.starts):
        audio = _first_audio_seconds(_segment(from_start, number))

        assert abs(audio - (start + OFFSET_SECONDS)) < 0.1


def test_the_faster_first_segment_shares_the_streams_parameter_sets(from_start: Path) -> None:
    sets = [_parameter_sets(_segment(from_start, n)) for n in range(PLAN.count)]

    assert len(sets[0]) == 2
    assert sets[0] == sets[1] == sets[2]


def test_a_restart_makes_the_same_segment_as_a_run_from_the_start(
    source: Path, from_start: Path, tmp_path: Path
) -> None:
    transcode_segments(str(source), str(tmp_path), VARIANT, PLAN, start_segment=2)

    restarted = _frames(_segment(tmp_path, 2))
    original = _frames(_segment(from_start, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg_00002.ts"]
    assert restarted[0].pts == original[0].pts
    assert restarted[0].key_frame
    assert len(restarted) == len(original)


def test_an_end_segment_stops_the_run_there(source: Path, tmp_path: Path) -> None:
    transcode_segments(str(source), str(tmp_path), VARIANT, PLAN, start_segment=1, end_segment=2)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg_00001.ts"]
    assert len(_frames(_segment(tmp_path, 1))) == 144


def test_a_source_without_audio_gives_video_only_segments(tmp_path: Path) -> None:
    silent = make_video(tmp_path / "silent.mkv", seconds=7.0, width=320, height=240, audio=None)
    plan = SegmentPlan(starts=(0.0, 6.0), durations=(6.0, 1.0))
    (tmp_path / "out").mkdir()

    transcode_segments(str(silent), str(tmp_path / "out"), VARIANT, plan)

    with av.open(str(_segment(tmp_path / "out", 1))) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_copy_mode_keeps_the_source_pictures(source: Path, tmp_path: Path) -> None:
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        keyframes = [
            float((p.pts - stream.start_time) * stream.time_base)
            for p in container.demux(stream)
            if p.is_keyframe and p.pts is not None
        ]
        container.seek(0)
        source_pts = sorted(
            float((f.pts - stream.start_time) * stream.time_base) for f in container.decode(stream)
        )
    ends = [*keyframes[1:], SECONDS]
    plan = SegmentPlan(
        starts=tuple(keyframes),
        durations=tuple(e - s for s, e in zip(keyframes, ends, strict=True)),
    )
    copy = Variant("source", 1280, 720, 0, 0, "h264", "aac", True, True, "avc1.64001f,mp4a.40.2")

    transcode_segments(str(source), str(tmp_path), copy, plan)

    copied: list[float] = []
    for number in range(plan.count):
        frames = _frames(_segment(tmp_path, number))
        assert frames[0].key_frame
        assert len(_parameter_sets(_segment(tmp_path, number))) == 2  # Annex B, SPS/PPS in band
        copied += [float(f.pts * f.time_base) - OFFSET_SECONDS for f in frames]
        assert abs(_first_audio_seconds(_segment(tmp_path, number)) - frames[0].time) < 0.1
    assert len(copied) == len(source_pts)
    assert copied == pytest.approx(source_pts, abs=1e-4)


def test_should_stop_ends_the_run_without_leaving_temporary_files(
    source: Path, tmp_path: Path
) -> None:
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 200

    transcode_segments(str(source), str(tmp_path), VARIANT, PLAN, should_stop=should_stop)

    assert calls == 201
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("seg_")] == []
    assert len(list(tmp_path.iterdir())) < PLAN.count


def test_a_truncated_source_is_unreadable(tmp_path: Path) -> None:
    broken = make_truncated(tmp_path / "broken.mp4", seconds=7.0)

    with pytest.raises(TranscodeError) as raised:
        transcode_segments(str(broken), str(tmp_path), VARIANT, PLAN)

    assert raised.value.code == "SOURCE_UNREADABLE"


def test_a_text_file_is_unreadable(tmp_path: Path) -> None:
    notes = make_text(tmp_path / "notes.mkv")

    with pytest.raises(TranscodeError) as raised:
        transcode_segments(str(notes), str(tmp_path), VARIANT, PLAN)

    assert raised.value.code == "SOURCE_UNREADABLE"


def test_a_source_shorter_than_its_plan_is_reported_truncated(tmp_path: Path) -> None:
    cut = make_truncated(tmp_path / "cut.mkv", seconds=8.0, width=320, height=240)
    plan = SegmentPlan(starts=(0.0, 6.0), durations=(6.0, 2.0))
    (tmp_path / "out").mkdir()

    with pytest.raises(TranscodeError) as raised:
        transcode_segments(str(cut), str(tmp_path / "out"), VARIANT, plan)

    assert raised.value.code in {"SOURCE_TRUNCATED", "DECODE_FAILED"}
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")] == []
