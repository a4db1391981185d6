"""On-demand HLS transcoding: how soon a player gets its first segment, and encode speed vs ffmpeg.

Figures (each the median of 3 runs) on a cached 10-minute 1080p H.264 + AAC source with motion:
  first_segment_s   child process start -> seg_00000.ts renamed into place (720p @ 3 Mb/s)
  seek_segment_s    the same for the segment holding 70 % of the duration (a seek restart)
  ours_fps / ffmpeg_fps / speed_ratio   one 60 s slice to 720p libx264 veryfast MPEG-TS, ours
                    in-process (transcode_segments) vs the ffmpeg CLI, runs alternated
Targets: first and seek <= 1.5 s, ratio >= 0.9.   Run: ./dev bench transcode
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
from _support import ROOT, figure, median

from media.hls.process import TranscodeJob, TranscodeProcess
from media.hls.transcode import transcode_segments
from media.hls.variants import SEGMENT_SECONDS, SegmentPlan, Variant

CACHE = Path(os.environ.get("REVENGE_BENCH_CACHE", "/tmp/revenge-bench-media"))
SOURCE = CACHE / "transcode" / "Motion Test 1080p (2024).mp4"
SECONDS = 600
FPS = 24
WIDTH, HEIGHT = 1920, 1080
RUNS = 3
SLICE_START, SLICE_SECONDS = 120.0, 60.0
VARIANT = Variant("720p", 1280, 720, 3_000_000, 128_000, "h264", "aac", False, False, "avc1,mp4a")
TARGET_FIRST_S = 1.5
TARGET_RATIO = 0.9

assert str(ROOT) in sys.path


def make_source() -> Path:
    """A panning blocky texture (real motion vectors, real residuals), x264 superfast with
    default GOP (keyint 250, B-frames) and stereo AAC; made once and cached."""
    if SOURCE.exists():
        return SOURCE
    SOURCE.parent.mkdir(parents=True, exist_ok=True)
    partial = SOURCE.with_suffix(".partial")
    rng = random.Random(7)
    tex_w, tex_h, block = WIDTH + 1200, HEIGHT + 600, 8
    rows = []
    for _ in range(tex_h // block):
        row = b"".join(bytes([rng.randrange(40, 216)]) * block for _ in range(tex_w // block))
        rows += [row] * block
    with av.open(str(partial), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS, options={"preset": "superfast"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = container.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        luma, chroma = frame.planes[0], frame.planes[1:]
        pad = b"\0" * (luma.line_size - WIDTH)
        samples = 0
        for index in range(SECONDS * FPS):
            x = abs((index * 3) % 2400 - 1200)
            y = abs((index * 2) % 1200 - 600)
            luma.update(b"".join(r[x : x + WIDTH] + pad for r in rows[y : y + HEIGHT]))
            for plane in chroma:
                plane.update(bytes([96 + index % 64]) * plane.buffer_size)
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(video.encode(frame))
            while samples < (index + 1) * 48000 // FPS:
                tone = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
                for plane in tone.planes:
                    plane.update(bytes(plane.buffer_size))
                tone.sample_rate, tone.pts = 48000, samples
                tone.time_base = Fraction(1, 48000)
                container.mux(audio.encode(tone))
                samples += 1024
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    partial.rename(SOURCE)
    return SOURCE


def uniform_plan(seconds: float) -> SegmentPlan:
    count = int(-(-seconds // SEGMENT_SECONDS))
    starts = tuple(n * SEGMENT_SECONDS for n in range(count))
    durations = tuple(min(SEGMENT_SECONDS, seconds - s) for s in starts)
    return SegmentPlan(starts, durations)


async def time_to_segment(source: Path, plan: SegmentPlan, segment: int) -> float:
    """Wall time from starting the child to the segment renamed into place (the real path)."""
    with tempfile.TemporaryDirectory(prefix="revenge-hls-") as out:
        started = time.monotonic()
        process = TranscodeProcess(
            TranscodeJob(str(source), out, VARIANT, plan, start_segment=segment)
        )
        await process.start()
        async for progress in process.progress():
            if progress.segments_ready >= 1:
                break
        elapsed = time.monotonic() - started
        assert f"seg_{segment:05d}.ts" in await asyncio.to_thread(os.listdir, out)
        await process.stop()
        return elapsed


def ours(source: Path, plan: SegmentPlan) -> float:
    first = plan.segment_at(SLICE_START)
    last = plan.segment_at(SLICE_START + SLICE_SECONDS - 0.001)
    with tempfile.TemporaryDirectory(prefix="revenge-hls-") as out:
        started = time.monotonic()
        transcode_segments(
            str(source), out, VARIANT, plan, start_segment=first, end_segment=last + 1
        )
        return time.monotonic() - started


def ffmpeg(source: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="revenge-ffmpeg-") as out:
        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-ss", str(SLICE_START)]
        command += ["-i", str(source), "-t", str(SLICE_SECONDS), "-vf", "scale=1280:720"]
        command += ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "3M", "-maxrate", "4500k"]
        command += ["-bufsize", "6M", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]
        command += ["-f", "mpegts", os.path.join(out, "slice.ts")]
        started = time.monotonic()
        subprocess.run(command, check=True)
        return time.monotonic() - started


def ensure_ffmpeg() -> None:
    if shutil.which("ffmpeg"):
        return
    install = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg"
    subprocess.run(["sh", "-c", install], check=True, stdout=subprocess.DEVNULL)


async def main() -> None:
    ensure_ffmpeg()
    source = make_source()
    plan = uniform_plan(SECONDS)
    far = plan.segment_at(0.7 * SECONDS)
    first = [await time_to_segment(source, plan, 0) for _ in range(RUNS)]
    figure("first_segment_s", median(first), "s")
    seek = [await time_to_segment(source, plan, far) for _ in range(RUNS)]
    figure("seek_segment_s", median(seek), "s")
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(RUNS):
        mine.append(ours(source, plan))
        theirs.append(ffmpeg(source))
    frames = SLICE_SECONDS * FPS
    figure("ours_fps", frames / median(mine), "fps")
    figure("ffmpeg_fps", frames / median(theirs), "fps")
    figure("ours_speed", SLICE_SECONDS / median(mine), "x")
    figure("ffmpeg_speed", SLICE_SECONDS / median(theirs), "x")
    ratio = median(theirs) / median(mine)
    figure("speed_ratio", ratio, "x")
    met = median(first) <= TARGET_FIRST_S and median(seek) <= TARGET_FIRST_S
    met = met and ratio >= TARGET_RATIO
    print(
        f"summary first={median(first):.2f}s seek={median(seek):.2f}s (target <= "
        f"{TARGET_FIRST_S}s) ratio={ratio:.2f} (target >= {TARGET_RATIO}) "
        f"{'met' if met else 'MISSED'}",
        flush=True,
    )


if __name__ == "__main__":
    if "--make-source" in sys.argv:
        print(make_source())
    else:
        asyncio.run(main())
