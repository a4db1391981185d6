"""The worker that encodes chooses the encoder: whatever encoder a session was recorded with (a
gateway with a GPU), this worker probes its own hardware, and a hardware encoder that fails here
is not tried again. Real encoder processes and real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import asyncpg
import av

from infra.bus import InProcessBus
from media.hls.encoders import EncoderChoice, EncoderProbe, detect_encoders
from media.hls.scratch import Scratch
from resolvers.playback.transcoder import Transcoder
from resolvers.playback.transcodes import request_run
from resolvers.playback.worker_encoders import WorkerEncoders
from tests.resolvers.playback.test_transcoder import VARIANT
from tests.resolvers.playback.test_transcoder import _session as insert_session
from tests.support.media_files import make_video

SECONDS = 4.0
LEASE = 60.0
NVENC = ("h264_nvenc", "nvenc", {"preset": "p4", "tune": "hq", "forced-idr": "1"})


async def _collect(bus: InProcessBus, topic: str, into: list[dict[str, Any]]) -> None:
    async for event in bus.subscribe(topic):
        into.append(event)


async def _encode(
    pool: asyncpg.Pool, tmp_path: Path, encoders: WorkerEncoders
) -> tuple[list[Any], list[dict[str, Any]], EncoderChoice]:
    """One whole run of a session recorded with NVENC (as a gateway with a GPU would record
    it) on a worker with ``encoders``: the first segment's frames, the run's events, and the
    worker's encoder choice afterwards."""
    source = await asyncio.to_thread(
        make_video, tmp_path / "Short Film (2003).mp4", seconds=SECONDS, width=320, height=240
    )
    session_id = await insert_session(pool, source, NVENC, SECONDS)
    bus = InProcessBus()
    events: list[dict[str, Any]] = []
    listener = asyncio.create_task(_collect(bus, f"transcode:{session_id}", events))
    scratch = Scratch(tmp_path / "scratch", max_bytes=10**9)
    scratch.open()
    transcoder = Transcoder(
        pool, bus, scratch, address="http://127.0.0.1:1", max_concurrent=1, lease_seconds=LEASE
    )
    transcoder.encoders = encoders
    try:
        run, _ = await request_run(pool, session_id, VARIANT.name, 0, LEASE)
        assert run is not None
        job = asyncio.create_task(transcoder.run(session_id, VARIANT.name, run.run_id))
        segment = await transcoder.segment(session_id, VARIANT.name, 0)
        with av.open(str(segment)) as container:
            frames = list(container.decode(video=0))
        async with asyncio.timeout(60):
            while not any(e["type"] == "transcode.complete" for e in events):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        choice = await transcoder.encoders.for_codec("h264")
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
    finally:
        await transcoder.close()
        scratch.close()
        listener.cancel()
    return frames, events, choice


async def test_the_worker_encodes_with_its_own_encoder_not_the_sessions(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    assert not next(p for p in detect_encoders() if p.name == "h264_nvenc").available

    frames, events, choice = await _encode(pool, tmp_path, WorkerEncoders("auto"))

    assert (frames[0].width, frames[0].height) == (320, 240)
    assert {event["encoder"] for event in events} == {"libx264"}
    assert choice.reason is None  # chosen here at once: no hardware encode was tried and failed


async def test_a_hardware_encode_that_fails_on_the_worker_is_redone_in_software(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    assert not next(p for p in detect_encoders() if p.name == "h264_qsv").available
    believed = [EncoderProbe("h264", "h264_qsv", "qsv", True)]  # detection wrongly said yes

    frames, events, choice = await _encode(pool, tmp_path, WorkerEncoders("qsv", believed))

    assert (frames[0].width, frames[0].height) == (320, 240)
    complete = next(event for event in events if event["type"] == "transcode.complete")
    assert complete["encoder"] == "libx264"
    assert choice.name == "libx264"
    assert choice.reason is not None and choice.reason.startswith("h264_qsv failed: ")


async def test_a_hardware_encoder_that_failed_here_is_not_chosen_again() -> None:
    encoders = WorkerEncoders("software")
    chosen = await encoders.for_codec("h264")

    encoders.failed("h264", "h264_qsv", "no MFX session")
    after = await encoders.for_codec("h264")
    await encoders.close()

    assert chosen == EncoderChoice("libx264", "software", {"preset": "veryfast"})
    assert after == EncoderChoice(
        "libx264", "software", {"preset": "veryfast"}, "h264_qsv failed: no MFX session"
    )
