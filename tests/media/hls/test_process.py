"""The transcode child: reports progress, stops on request, and never outlives its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import pytest

from media.hls.encoders import EncoderProbe, choose_encoder, detect_encoders
from media.hls.process import SpareProcess, TranscodeJob, TranscodeProcess
from media.hls.transcode import TranscodeProgress
from media.hls.variants import SegmentPlan, Variant
from tests.support.media_files import make_video
from tests.support.processes import has_exited as _gone

ROOT = Path(__file__).resolve().parents[3]
PLAN = SegmentPlan(starts=(0.0, 6.0, 12.0), durations=(6.0, 6.0, 2.0))
VARIANT = Variant("360p", 640, 360, 800_000, 96_000, "h264", "aac", False, False, "avc1,mp4a")
SLOW = {"preset": "veryslow"}  # keeps a child busy long enough to be stopped or orphaned


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("source")
    return make_video(folder / "movie.mp4", seconds=14.0, width=1280, height=720, fps=24)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _reaped(pid: int) -> bool:
    """Not in /proc any more, and not our child any more (no zombie left to wait for)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not Path(f"/proc/{pid}").exists()
    return False


async def test_a_child_reports_progress_and_writes_every_segment(
    source: Path, tmp_path: Path
) -> None:
    seen: list[TranscodeProgress] = []
    process = TranscodeProcess(TranscodeJob(str(source), str(tmp_path), VARIANT, PLAN), seen.append)

    await process.start()
    streamed = [p async for p in process.progress()]
    result = await process.wait()

    assert result.status == "done"
    assert result.returncode == 0 == process.returncode
    assert result.segments_ready == 3
    assert streamed == seen
    assert streamed[-1].segments_ready == 3
    assert _names(tmp_path) == [
        "seg_00000.ts",
        "seg_00001.ts",
        "seg_00002.ts",
    ]


async def test_a_failing_source_comes_back_as_an_error_code(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.mkv")
    process = TranscodeProcess(TranscodeJob(missing, str(tmp_path), VARIANT, PLAN))

    await process.start()
    result = await process.wait()

    assert (result.status, result.error_code, result.returncode) == (
        "failed",
        "SOURCE_UNREADABLE",
        1,
    )


async def test_stop_ends_a_running_child_and_reaps_it(source: Path, tmp_path: Path) -> None:
    job = TranscodeJob(str(source), str(tmp_path), VARIANT, PLAN, encoder_options=SLOW)
    process = TranscodeProcess(job)
    await process.start()
    assert process.pid is not None
    await anext(aiter(process.progress()))

    result = await process.stop(grace=2.0)

    assert result.status == "stopped"
    assert process.returncode == 0
    assert _reaped(process.pid)
    assert [name for name in _names(tmp_path) if name.endswith(".tmp")] == []


async def test_stop_kills_a_child_that_does_not_stop_in_time(source: Path, tmp_path: Path) -> None:
    job = TranscodeJob(str(source), str(tmp_path), VARIANT, PLAN, encoder_options=SLOW)
    process = TranscodeProcess(job)
    await process.start()
    assert process.pid is not None
    await anext(aiter(process.progress()))  # its SIGTERM handler is in place by now
    os.kill(process.pid, signal.SIGSTOP)  # deaf to SIGTERM until SIGKILL

    result = await process.stop(grace=0.2)

    assert (result.status, result.error_code) == ("failed", "CHILD_DIED")
    assert process.returncode == -signal.SIGKILL
    assert _reaped(process.pid)


def test_the_child_dies_with_its_parent(source: Path, tmp_path: Path) -> None:
    parent_script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        from media.hls.process import TranscodeJob, TranscodeProcess
        from tests.media.hls.test_process import PLAN, SLOW, VARIANT

        async def main():
            job = TranscodeJob({str(source)!r}, {str(tmp_path)!r}, VARIANT, PLAN,
                               encoder_options=SLOW)
            process = TranscodeProcess(job)
            await process.start()
            await anext(aiter(process.progress()))
            print(process.pid, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not _gone(child)

        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5.0
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)

        assert _gone(child)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


async def test_progress_ends_for_a_second_reader(source: Path, tmp_path: Path) -> None:
    job = TranscodeJob(str(source), str(tmp_path), VARIANT, PLAN, end_segment=1)
    process = TranscodeProcess(job)
    await process.start()

    first = [p async for p in process.progress()]
    second = [p async for p in process.progress()]

    assert first and second == []
    assert (await asyncio.wait_for(process.wait(), 30)).status == "done"


async def test_a_spare_child_takes_the_job_and_the_next_spare_is_started(
    source: Path, tmp_path: Path
) -> None:
    spare = SpareProcess()
    spare.fill()
    async with asyncio.timeout(10):
        while spare._spare is None:  # noqa: ASYNC110 - the spare offers no event to wait on
            await asyncio.sleep(0.01)
    waiting = spare._spare.pid

    process = TranscodeProcess(TranscodeJob(str(source), str(tmp_path), VARIANT, PLAN), spare=spare)
    await process.start()
    result = await process.wait()
    async with asyncio.timeout(10):
        while spare._spare is None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    next_spare = spare._spare.pid
    await spare.close()

    assert process.pid == waiting and result.status == "done"
    assert _names(tmp_path) == ["seg_00000.ts", "seg_00001.ts", "seg_00002.ts"]
    assert next_spare != waiting and _reaped(next_spare)


@pytest.mark.parametrize("name", ["h264_qsv", "h264_nvenc"])
async def test_a_hardware_encoder_that_fails_here_gives_way_to_libx264(
    name: str, tmp_path: Path
) -> None:
    if next(probe for probe in detect_encoders() if probe.name == name).available:
        pytest.skip(f"{name} works on this machine")
    small = make_video(tmp_path / "small.mp4", seconds=2.0, width=320, height=240, fps=24)
    variant = Variant("240p", 320, 240, 300_000, 96_000, "h264", "aac", False, False, "")
    out = tmp_path / "out"
    out.mkdir()
    hardware = choose_encoder("h264", "auto", probes=[EncoderProbe("h264", name, "hw", True)])
    job = TranscodeJob(
        str(small),
        str(out),
        variant,
        SegmentPlan(starts=(0.0,), durations=(2.0,)),
        encoder_name=hardware.name,
        encoder_options=dict(hardware.options),
    )
    process = TranscodeProcess(job)

    await process.start()
    result = await asyncio.wait_for(process.wait(), 60)

    assert (result.status, result.encoder) == ("done", "libx264")
    assert result.encoder_fallback is not None and result.encoder_fallback.startswith(name)
    with av.open(str(out / "seg_00000.ts")) as segment:
        assert segment.streams.video[0].codec_context.name == "h264"
        frames = list(segment.decode(video=0))
    assert [(frames[0].width, frames[0].height), len(frames)] == [(320, 240), 48]
