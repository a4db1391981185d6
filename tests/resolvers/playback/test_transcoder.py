"""The worker side of transcoding with real encoder processes and real PostgreSQL: segments
come, a far request restarts the encoder there and keeps what was made, the lease lapsing stops
the encoder and clears its scratch, the per-worker limit queues runs visibly, and a bad source
fails with a code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from infra.bus import InProcessBus
from media.hls.plan import uniform_plan
from media.hls.scratch import Scratch
from media.hls.variants import Variant
from resolvers.playback.transcoder import SegmentUnavailable, Transcoder
from resolvers.playback.transcodes import create_transcode, encoder_run, request_run
from resolvers.user.accounts import create_user
from tests.support.catalog_rows import insert_file, insert_item, insert_library
from tests.support.media_files import make_video

VARIANT = Variant(
    name="240p",
    width=320,
    height=240,
    video_bitrate=400_000,
    audio_bitrate=96_000,
    video_codec="h264",
    audio_codec="aac",
    copy_video=False,
    copy_audio=False,
    codecs="avc1.64000d,mp4a.40.2",
)
SECONDS = 30.0
LEASE = 60.0


@pytest.fixture
async def source(tmp_path: Path) -> Path:
    return await asyncio.to_thread(
        make_video,
        tmp_path / "Long Film (2003).avi",
        seconds=SECONDS,
        width=320,
        height=240,
        codec="mpeg4",
        audio="mp3",
    )


async def _session(
    pool: asyncpg.Pool,
    path: Path,
    encoder: tuple[str, str, dict[str, str]] = ("libx264", "software", {"preset": "veryfast"}),
    seconds: float = SECONDS,
) -> uuid.UUID:
    library = await insert_library(pool, name=f"Movies {uuid.uuid4().hex[:6]}")
    item = await insert_item(pool, library, "Long Film")
    file_id = await insert_file(pool, item, library, str(path), duration_ms=int(seconds * 1000))
    async with pool.acquire() as conn:
        user = await create_user(conn, f"viewer-{uuid.uuid4().hex[:6]}", "a long enough password")
        profile = await conn.fetchval("SELECT id FROM profiles WHERE user_id = $1", user["id"])
        session_id: uuid.UUID = await conn.fetchval(
            "INSERT INTO playback_sessions (user_id, profile_id, item_id, file_id, method) "
            "VALUES ($1, $2, $3, $4, 'TRANSCODE') RETURNING id",
            user["id"],
            profile,
            item,
            file_id,
        )
        await create_transcode(
            conn,
            session_id,
            file_id,
            [VARIANT],
            uniform_plan(seconds),
            None,
            encoder,
        )
    return session_id


@contextlib.asynccontextmanager
async def _transcoder(
    pool: asyncpg.Pool, tmp_path: Path, bus: InProcessBus, slots: int = 2
) -> AsyncIterator[Transcoder]:
    scratch = Scratch(tmp_path / "scratch", max_bytes=10**9)
    scratch.open()
    transcoder = Transcoder(
        pool, bus, scratch, address="http://127.0.0.1:1", max_concurrent=slots, lease_seconds=LEASE
    )
    try:
        yield transcoder
    finally:
        await transcoder.close()
        scratch.close()


async def _start(
    pool: asyncpg.Pool, transcoder: Transcoder, session_id: uuid.UUID, segment: int = 0
) -> asyncio.Task[str]:
    run, is_new = await request_run(pool, session_id, VARIANT.name, segment, LEASE)
    assert run is not None and is_new
    return asyncio.create_task(transcoder.run(session_id, VARIANT.name, run.run_id))


async def _collect(bus: InProcessBus, topic: str, into: list[dict[str, Any]]) -> None:
    async for event in bus.subscribe(topic):
        into.append(event)


async def test_segments_come_and_a_seek_restarts_the_encoder_keeping_what_was_made(
    pool: asyncpg.Pool, tmp_path: Path, source: Path
) -> None:
    bus = InProcessBus()
    session_id = await _session(pool, source)
    events: list[dict[str, Any]] = []
    listener = asyncio.create_task(_collect(bus, f"transcode:{session_id}", events))
    async with _transcoder(pool, tmp_path, bus) as transcoder:
        job = await _start(pool, transcoder, session_id)

        first = await transcoder.segment(session_id, VARIANT.name, 0)
        made_at = first.stat().st_mtime_ns
        far = await transcoder.segment(session_id, VARIANT.name, 4)  # 24 s: a seek
        run = await encoder_run(pool, session_id, VARIANT.name)
        last = await transcoder.segment(session_id, VARIANT.name, 1)  # back before the seek

        assert far.name == "seg_00004.ts" and last.name == "seg_00001.ts"
        assert first.stat().st_mtime_ns == made_at  # made once, served again
        assert run is not None and run.status == "running" and run.worker_id
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
    listener.cancel()
    progress = [e for e in events if e["type"] == "transcode.progress"]
    assert progress and progress[-1]["encoder"] == "libx264"
    assert {e["sessionId"] for e in events} == {str(session_id)}


async def test_a_lapsed_lease_stops_the_encoder_and_clears_the_scratch(
    pool: asyncpg.Pool, tmp_path: Path, source: Path
) -> None:
    bus = InProcessBus()
    session_id = await _session(pool, source)
    async with _transcoder(pool, tmp_path, bus) as transcoder:
        job = await _start(pool, transcoder, session_id)
        await transcoder.segment(session_id, VARIANT.name, 0)
        folder = transcoder.scratch.variant_dir(session_id, VARIANT.name)
        assert folder.exists()

        await pool.execute(
            "UPDATE playback_sessions SET last_heartbeat_at = now() - interval '10 minutes'"
        )
        outcome = await asyncio.wait_for(job, 10)

        assert outcome == "stopped"
        assert not folder.parent.exists()
        run = await encoder_run(pool, session_id, VARIANT.name)
        assert run is not None and run.status == "stopped"
        children = {p for p in os.listdir("/proc") if p.isdigit() and _is_encoder_child(p)}
        spare = transcoder._spare._spare  # the warm child waiting for the next job, not an encoder
        assert children <= ({str(spare.pid)} if spare is not None else set())
        with pytest.raises(SegmentUnavailable):
            await transcoder.segment(session_id, VARIANT.name, 2, wait_seconds=0.2)
        again, _ = await request_run(pool, session_id, VARIANT.name, 2, LEASE)
        assert again is None  # no encoder starts for a session without heartbeats


def _is_encoder_child(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().split(b"\0")
        with open(f"/proc/{pid}/stat") as handle:
            parent = int(handle.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return False
    return b"media.hls.process" in command and parent == os.getpid()


async def test_runs_beyond_the_worker_limit_wait_visibly_queued(
    pool: asyncpg.Pool, tmp_path: Path, source: Path
) -> None:
    bus = InProcessBus()
    first_session = await _session(pool, source)
    second_session = await _session(pool, source)
    async with _transcoder(pool, tmp_path, bus, slots=1) as transcoder:
        first = await _start(pool, transcoder, first_session)
        await transcoder.segment(first_session, VARIANT.name, 0)
        second = await _start(pool, transcoder, second_session)
        await asyncio.sleep(1.0)

        waiting = await encoder_run(pool, second_session, VARIANT.name)
        assert waiting is not None and (waiting.status, waiting.is_alive) == ("queued", True)

        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        segment = await transcoder.segment(second_session, VARIANT.name, 0)
        running = await encoder_run(pool, second_session, VARIANT.name)
        assert segment.exists()
        assert running is not None and running.status == "running"
        second.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await second


async def test_a_bad_source_fails_the_run_with_a_code(pool: asyncpg.Pool, tmp_path: Path) -> None:
    bad = tmp_path / "Bad (2004).avi"
    bad.write_bytes(b"RIFF" + b"\0" * 4000)
    bus = InProcessBus()
    session_id = await _session(pool, bad)
    async with _transcoder(pool, tmp_path, bus) as transcoder:
        job = await _start(pool, transcoder, session_id)

        with pytest.raises(SegmentUnavailable) as failure:
            await transcoder.segment(session_id, VARIANT.name, 0)
        outcome = await asyncio.wait_for(job, 10)

    assert failure.value.code == "TRANSCODE_FAILED"
    assert "SOURCE_UNREADABLE" in failure.value.message
    assert outcome == "failed"
    run = await encoder_run(pool, session_id, VARIANT.name)
    assert run is not None and (run.status, run.failure_code) == ("failed", "TRANSCODE_FAILED")
