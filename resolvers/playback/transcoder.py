"""The worker side of transcoding: runs encoders in child processes and hands out segments.

One ``Transcoder`` lives in each process that runs transcode jobs (``revenge serve``'s
in-process worker, each ``revenge worker``). A job (``run``) claims its encoder run, waits for
one of the worker's encoder slots (``transcode.max_per_worker``; meanwhile the run shows as
queued), then supervises a ``TranscodeProcess``: twice a second it records progress, publishes
it on the bus (topic ``transcode:<session>``), and checks the lease — the playback session's
heartbeats. When the lease lapses or the session stops, the encoder stops and the session's
scratch files go.

``segment`` answers a request for segment ``n`` of a run this worker holds: a segment already
made is served (and touched, for the scratch LRU); one just ahead of the encoder is waited for;
one far from it (a seek) restarts the encoder at ``n``, ending where already-made segments
begin, so nothing before the seek point is encoded and nothing made is made twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from infra.bus import EventBus
from infra.keyvalue import InProcessKeyValue, KeyValue
from infra.server_events import publish_server_event
from media.hls.encoders import codec_of
from media.hls.process import SpareProcess, TranscodeJob, TranscodeProcess
from media.hls.scratch import Scratch
from media.hls.transcode import TranscodeProgress
from resolvers.playback.transcode_progress import transcode_topic
from resolvers.playback.transcodes import (
    RunAddress,
    TranscodeSession,
    claim_run,
    finish_run,
    forget_address,
    heartbeat_run,
    publish_address,
    transcode_session,
)
from resolvers.playback.worker_encoders import WorkerEncoders

__all__ = ["AHEAD_SEGMENTS", "SegmentUnavailable", "Transcoder", "segment_name"]

log = structlog.get_logger("revenge.transcoder")

# A request this many segments past the encoder's position is a seek: restart there.
AHEAD_SEGMENTS = 3
BEAT_SECONDS = 0.5
# How often serving segments checks the scratch size limit.
TRIM_SECONDS = 5.0


def segment_name(index: int) -> str:
    return f"seg_{index:05d}.ts"


class SegmentUnavailable(Exception):
    """The segment cannot be had: ``code`` says why (TRANSCODE_FAILED, SESSION_ENDED, TIMEOUT)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Run:
    session: TranscodeSession
    variant: str
    run_id: uuid.UUID
    directory: Path
    start_segment: int = 0
    end_segment: int | None = None
    process: TranscodeProcess | None = None
    failure: SegmentUnavailable | None = None
    finished: bool = False
    segment: int = 0
    frames: int = 0
    speed: float | None = None
    encoder: str = ""  # the encoder at work on this worker (the session's names the codec)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # starts, stops and ends

    def made(self, index: int) -> bool:
        return (self.directory / segment_name(index)).exists()


class Transcoder:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: EventBus,
        scratch: Scratch,
        *,
        address: str,
        max_concurrent: int,
        lease_seconds: float,
        addresses: KeyValue | None = None,
        encoder_preference: str = "auto",
    ) -> None:
        self.pool = pool
        self.addresses = addresses or InProcessKeyValue()
        self.bus = bus
        self.scratch = scratch
        self.address = address
        self.lease_seconds = lease_seconds
        self._slots = asyncio.Semaphore(max_concurrent)
        self._runs: dict[tuple[uuid.UUID, str], _Run] = {}
        self._stopping: set[asyncio.Task[Any]] = set()
        self._spare = SpareProcess()
        self._trimmed_at = 0.0
        self.encoders = WorkerEncoders(encoder_preference)

    def warm(self) -> None:
        """Start the spare encoder child now, so even the first transcode finds one, and find
        this worker's H.264 encoder (``WorkerEncoders``)."""
        self._spare.fill()
        self.encoders.warm("h264")

    @property
    def worker_id(self) -> str:
        return self.scratch.worker_id

    @property
    def active(self) -> int:
        return sum(1 for run in self._runs.values() if run.process is not None)

    # -- the job ---------------------------------------------------------------------------

    async def run(self, session_id: uuid.UUID, variant: str, run_id: uuid.UUID) -> str:
        """A transcode job's body; returns how the run ended (for logs and tests)."""
        session = await transcode_session(self.pool, session_id)
        if session is None or session.variant(variant) is None:
            return "gone"
        waiting = asyncio.create_task(self._keep_queued(run_id))
        try:
            await self._slots.acquire()
        finally:
            waiting.cancel()
        try:
            requested = await claim_run(
                self.pool, session_id, variant, run_id, self.worker_id, self.address
            )
            if requested is None:
                return "replaced"
            run = _Run(
                session=session,
                variant=variant,
                run_id=run_id,
                directory=self.scratch.variant_dir(session_id, variant),
            )
            run.directory.mkdir(parents=True, exist_ok=True)
            self._runs[(session_id, variant)] = run
            await self._publish_address(run)
            try:
                return await self._supervise(run, requested)
            finally:
                del self._runs[(session_id, variant)]
                await self._stop_process(run)
                with contextlib.suppress(Exception):
                    await forget_address(self.addresses, session_id, variant)
        finally:
            self._slots.release()

    async def _keep_queued(self, run_id: uuid.UUID) -> None:
        """While the run waits for a slot, keep it looking alive (and visibly queued)."""
        while True:
            await self.pool.execute(
                "UPDATE transcode_encoders SET updated_at = now() "
                "WHERE run_id = $1 AND status = 'queued'",
                run_id,
            )
            await asyncio.sleep(2.0)

    async def _supervise(self, run: _Run, first_segment: int) -> str:
        async with run.lock:
            await self._start(run, first_segment)
        outcome = "stopped"
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            async with run.lock:
                await self._follow(run)
            status = "done" if run.finished else "running"
            alive = await heartbeat_run(
                self.pool,
                run.run_id,
                status=status,
                start_segment=run.start_segment,
                segment=run.segment,
                segments_ready=self._ready(run),
                frames=run.frames,
                speed=run.speed,
                lease_seconds=self.lease_seconds,
            )
            await self._publish(run, status)
            if alive and run.failure is None:
                await self._publish_address(run)
            if run.failure is not None:
                await finish_run(
                    self.pool, run.run_id, "failed", run.failure.code, run.failure.message
                )
                await self._publish(run, "failed")
                outcome = "failed"
                break
            if not alive:
                await finish_run(self.pool, run.run_id, "stopped")
                await self._stop_process(run)
                self.scratch.remove_session(run.session.session_id)
                break
        return outcome

    async def _start(self, run: _Run, segment: int) -> None:
        """Start the encoder at ``segment``, ending before the next segment already made."""
        count = run.session.plan.count
        end = next((i for i in range(segment + 1, count) if run.made(i)), count)
        variant = run.session.variant(run.variant)
        assert variant is not None
        encoder = await self.encoders.for_codec(codec_of(run.session.encoder))
        job = TranscodeJob(
            source=run.session.source_path,
            out_dir=str(run.directory),
            variant=variant,
            plan=run.session.plan,
            start_segment=segment,
            end_segment=end,
            audio_stream_index=run.session.audio_stream,
            encoder_name=encoder.name,
            encoder_options=dict(encoder.options),
            burn_subtitle_index=run.session.burn_subtitle_stream,
        )
        run.start_segment, run.end_segment, run.segment = segment, end, segment
        run.finished, run.encoder = False, encoder.name

        def on_progress(progress: TranscodeProgress) -> None:
            if run.process is not process:
                return  # a replaced encoder finishing its last packets
            run.segment, run.frames, run.speed = progress.segment, progress.frames, progress.speed
            self._note_fallback(run, process.encoder, process.encoder_fallback)
            run.changed.set()

        process = TranscodeProcess(job, on_progress, self._spare)
        run.process = process
        await process.start()
        log.info(
            "encoder started",
            session_id=str(run.session.session_id),
            variant=run.variant,
            segment=segment,
            end=end,
            pid=process.pid,
        )
        run.changed.set()

    async def _follow(self, run: _Run) -> None:
        """Notice the encoder's end: all its segments made, or a failure."""
        process = run.process
        if process is None or process.returncode is None:
            return
        result = await process.wait()
        run.process = None
        self._note_fallback(run, result.encoder, result.encoder_fallback)
        if result.status == "done":
            run.finished = True
            if run.end_segment == run.session.plan.count:
                event = self._event(run, "transcode.complete", "done")
                await self.bus.publish(transcode_topic(run.session.session_id), event)
                await publish_server_event(self.bus, "transcode.complete", _summary(event))
        elif result.status == "failed":
            code = result.error_code or "TRANSCODE_FAILED"
            run.failure = SegmentUnavailable(
                "TRANSCODE_FAILED", f"{code}: {result.error_message or 'the encoder failed'}"
            )
        run.changed.set()

    def _note_fallback(self, run: _Run, encoder: str | None, fallback: str | None) -> None:
        """The child gave up on the hardware encoder: so does this worker, from now on."""
        if fallback is not None and encoder is not None and encoder != run.encoder:
            self.encoders.failed(codec_of(run.session.encoder), run.encoder, fallback)
            run.encoder = encoder

    async def _stop_process(self, run: _Run) -> None:
        process, run.process = run.process, None
        if process is not None:
            with contextlib.suppress(Exception):
                await process.stop()

    async def _publish_address(self, run: _Run) -> None:
        """The session → worker map entry, renewed with each heartbeat."""
        address = RunAddress(run.run_id, self.worker_id, self.address)
        await publish_address(self.addresses, run.session.session_id, run.variant, address)

    def _ready(self, run: _Run) -> int:
        """Segments on disk: one directory read, not a stat per planned segment."""
        try:
            names = os.listdir(run.directory)
        except OSError:
            return 0
        return sum(1 for name in names if name.startswith("seg_") and name.endswith(".ts"))

    def _event(self, run: _Run, kind: str, status: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": kind,
            "sessionId": str(run.session.session_id),
            "variant": run.variant,
            "status": status,
            "segment": run.segment,
            "segmentsReady": self._ready(run),
            "segmentCount": run.session.plan.count,
            "frames": run.frames,
            "speed": run.speed,
            "encoder": run.encoder or run.session.encoder,
        }
        if run.failure is not None:
            event["failureCode"] = run.failure.code
            event["failureMessage"] = run.failure.message
        return event

    async def _publish(self, run: _Run, status: str) -> None:
        kind = "transcode.failed" if status == "failed" else "transcode.progress"
        event = self._event(run, kind, status)
        await self.bus.publish(transcode_topic(run.session.session_id), event)
        if kind == "transcode.failed":
            await publish_server_event(self.bus, kind, _summary(event))

    # -- serving ---------------------------------------------------------------------------

    def holds(self, session_id: uuid.UUID, variant: str) -> bool:
        return (session_id, variant) in self._runs

    async def segment(
        self, session_id: uuid.UUID, variant: str, index: int, wait_seconds: float = 30.0
    ) -> Path:
        """Segment ``index`` of a run this worker holds, once it exists."""
        run = self._runs.get((session_id, variant))
        registering = time.monotonic() + 2.0
        while run is None and time.monotonic() < registering:
            # The run may be claimed in the database a moment before its job registers it here.
            await asyncio.sleep(0.05)
            run = self._runs.get((session_id, variant))
        if run is None:
            raise SegmentUnavailable("NOT_HERE", "this worker does not hold that encoder")
        if not 0 <= index < run.session.plan.count:
            raise SegmentUnavailable("NOT_FOUND", "no such segment")
        path = run.directory / segment_name(index)
        deadline = time.monotonic() + wait_seconds
        while True:
            if path.exists():
                Scratch.touch(path)
                await self._trim_scratch()
                return path
            if run.failure is not None:
                raise run.failure
            if (session_id, variant) not in self._runs:
                raise SegmentUnavailable("SESSION_ENDED", "the transcode stopped")
            if not self._upcoming(run, index):
                async with run.lock:
                    if not path.exists() and not self._upcoming(run, index):
                        # The new encoder starts first; the old one stops in the background
                        # (a SIGTERM and a reap), so the seek does not wait for it.
                        previous, run.process = run.process, None
                        await self._start(run, index)
                        if previous is not None:
                            self._stopping.add(asyncio.create_task(previous.stop()))
                            self._stopping = {t for t in self._stopping if not t.done()}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SegmentUnavailable("TIMEOUT", "the segment was not ready in time")
            run.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.changed.wait(), min(0.05, remaining))

    async def _trim_scratch(self) -> None:
        """Keep the scratch under its size limit. Walking it costs a stat per segment, so it
        runs at most every ``TRIM_SECONDS`` and off the event loop, not per segment served."""
        now = time.monotonic()
        if now - self._trimmed_at < TRIM_SECONDS:
            return
        self._trimmed_at = now
        await asyncio.to_thread(self.scratch.enforce_limit, self._protected())

    @staticmethod
    def _upcoming(run: _Run, index: int) -> bool:
        """The running encoder will reach ``index`` soon: waiting beats restarting."""
        return (
            run.process is not None
            and run.start_segment <= index <= run.segment + AHEAD_SEGMENTS
            and index < (run.end_segment or run.session.plan.count)
        )

    def _protected(self) -> frozenset[Path]:
        """Segments around every encoder's position: never evicted by the size limit."""
        keep: set[Path] = set()
        for run in self._runs.values():
            for index in range(max(0, run.segment - 2), run.segment + AHEAD_SEGMENTS + 1):
                keep.add(run.directory / segment_name(index))
        return frozenset(keep)

    async def close(self) -> None:
        """Stop every encoder and mark its run stopped, so a gateway starts a new run on
        another worker at once instead of waiting for this one's heartbeat to go stale."""
        for run in list(self._runs.values()):
            await self._stop_process(run)
            with contextlib.suppress(Exception):
                await finish_run(self.pool, run.run_id, "stopped")
        await asyncio.gather(*self._stopping, return_exceptions=True)
        await self._spare.close()
        await self.encoders.close()


def _summary(event: dict[str, Any]) -> dict[str, Any]:
    """A transcode event as a server event: what ended, not the encoder's running counters."""
    kept = ("sessionId", "variant", "status", "segmentCount", "encoder", "failureCode",
            "failureMessage")  # fmt: skip
    return {key: event[key] for key in kept if key in event}
