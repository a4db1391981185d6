"""Run ``transcode_segments`` in a child process, driven from the gateway's event loop.

Encoding is CPU-bound and holds the GIL for long stretches, so the event loop only starts a
child (``python -P -m media.hls.process``: safe-path mode, see ``media.child_python``), reads its
JSON-line reports from a pipe, and signals it.
asyncio's subprocess transport reaps the child, so no zombie is left; ``stop()`` sends SIGTERM
(the child finishes the packet in hand, removes its temporary file and exits), then SIGKILL
after a grace period, then removes whatever temporary file a killed child left.

The child must never outlive the server that wanted its segments: it asks Linux for SIGKILL when
its parent dies (``PR_SET_PDEATHSIG``), checks it was not orphaned before that took effect, and
runs a watchdog thread that exits as soon as ``getppid()`` changes. It lowers its own priority
(``nice 5``) so the gateway stays responsive while it encodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import glob
import json
import os
import pickle
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from media.child_python import child_environment, python_module_command
from media.hls.encoders import codec_of, software_encoder
from media.hls.transcode import TranscodeError, TranscodeProgress, transcode_segments
from media.hls.variants import SegmentPlan, Variant

__all__ = ["SpareProcess", "TranscodeJob", "TranscodeProcess", "TranscodeResult"]

_PR_SET_PDEATHSIG = 1
_WATCHDOG_SECONDS = 0.5
_NICENESS = 5


@dataclass(frozen=True, slots=True)
class TranscodeJob:
    """Everything a child needs, picklable: the arguments of ``transcode_segments``."""

    source: str
    out_dir: str
    variant: Variant
    plan: SegmentPlan
    start_segment: int = 0
    end_segment: int | None = None
    audio_stream_index: int | None = None
    encoder_name: str = "libx264"
    encoder_options: dict[str, str] = field(default_factory=dict)
    burn_subtitle_index: int | None = None  # a bitmap subtitle stream to paint into the video


@dataclass(frozen=True, slots=True)
class TranscodeResult:
    """How a child ended: ``status`` is "done", "stopped" or "failed"; ``error_code`` is a
    ``TranscodeError`` code, or "CHILD_DIED" when it exited without a report (killed).
    ``encoder`` is the one that made the segments: software when the job's hardware one failed
    (``encoder_fallback`` says why)."""

    status: str
    returncode: int
    segments_ready: int = 0
    error_code: str | None = None
    error_message: str | None = None
    encoder: str | None = None
    encoder_fallback: str | None = None


async def _spawn_child() -> asyncio.subprocess.Process:
    """A child that has imported the encoder and waits for its job on stdin."""
    return await asyncio.create_subprocess_exec(
        *python_module_command("media.hls.process", str(os.getpid())),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=child_environment(),  # safe-path mode: never a media.py from the working folder
    )


class SpareProcess:
    """One child started ahead of need: Python's start-up and the encoder's imports (about 0.15 s
    here) are paid before a player asks, not while it waits for its first segment. Taking the
    spare starts the next one in the background. The spare dies with its parent like any child."""

    def __init__(self) -> None:
        self._spare: asyncio.subprocess.Process | None = None
        self._filling: asyncio.Task[None] | None = None

    def fill(self) -> None:
        if self._filling is None or self._filling.done():
            self._filling = asyncio.create_task(self._spawn(), name="spare transcode child")

    async def _spawn(self) -> None:
        if self._spare is None:
            self._spare = await _spawn_child()

    def take(self) -> asyncio.subprocess.Process | None:
        """The waiting child, if one is ready (never waits for one)."""
        spare, self._spare = self._spare, None
        self.fill()
        if spare is not None and spare.returncode is None:
            return spare
        return None

    async def close(self) -> None:
        if self._filling is not None:
            self._filling.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await self._filling
        spare, self._spare = self._spare, None
        if spare is not None and spare.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                spare.kill()
            await spare.wait()


class TranscodeProcess:
    """One transcode child: ``await start()``, then ``progress()``/``wait()``/``stop()``."""

    def __init__(
        self,
        job: TranscodeJob,
        on_progress: Callable[[TranscodeProgress], None] | None = None,
        spare: SpareProcess | None = None,
    ) -> None:
        self.job = job
        self.on_progress = on_progress
        self.spare = spare
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[TranscodeProgress | None] = asyncio.Queue()
        self._report: dict[str, Any] | None = None
        self._segments_ready = 0
        self.encoder = job.encoder_name  # the encoder at work: software after a fallback
        self.encoder_fallback: str | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode

    async def start(self) -> None:
        """Start the child (or take the spare) and hand it the job; returns as soon as it
        runs."""
        taken = self.spare.take() if self.spare is not None else None
        self._process = taken or await _spawn_child()
        assert self._process.stdin is not None
        self._process.stdin.write(pickle.dumps(self.job))
        self._process.stdin.close()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        try:
            async for line in self._process.stdout:
                message = json.loads(line)
                kind = message.pop("type")
                if kind == "encoder":
                    self.encoder, self.encoder_fallback = message["name"], message["reason"]
                elif kind == "progress":
                    progress = TranscodeProgress(**message)
                    self._segments_ready = progress.segments_ready
                    self._queue.put_nowait(progress)
                    if self.on_progress is not None:
                        self.on_progress(progress)
                else:
                    self._report = message
        finally:
            self._queue.put_nowait(None)

    async def progress(self) -> AsyncIterator[TranscodeProgress]:
        """Progress reports as they arrive, ending when the child closes its pipe."""
        while (item := await self._queue.get()) is not None:
            yield item
        self._queue.put_nowait(None)  # a second iterator ends too

    async def wait(self) -> TranscodeResult:
        """Wait for the child to exit and reap it; never raises for a child's failure."""
        assert self._process is not None and self._reader is not None
        await self._reader
        returncode = await self._process.wait()
        report = self._report or {}
        status = report.get("status", "failed")
        return TranscodeResult(
            status=status,
            returncode=returncode,
            segments_ready=report.get("segments_ready", self._segments_ready),
            error_code=report.get("code", None if report else "CHILD_DIED"),
            error_message=report.get("message"),
            encoder=self.encoder,
            encoder_fallback=self.encoder_fallback,
        )

    async def stop(self, grace: float = 2.0) -> TranscodeResult:
        """SIGTERM, then SIGKILL after ``grace`` seconds; removes temporary files it left."""
        assert self._process is not None
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(self._process.wait()), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
        result = await self.wait()
        pattern = os.path.join(glob.escape(self.job.out_dir), f".seg_*.ts.{self._process.pid}.tmp")
        for leftover in glob.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        return result


def _die_with_parent(parent: int) -> None:
    """SIGKILL on the parent's death (Linux), and a watchdog for the rest and for races."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the request took effect

    def watch() -> None:
        while True:
            threading.Event().wait(_WATCHDOG_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def main(argv: list[str]) -> int:
    """The child: read the pickled job from stdin, report on the original stdout."""
    _die_with_parent(int(argv[0]))
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints go to stderr, never into the report pipe
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda number, frame: stop.set())
    try:
        job: TranscodeJob = pickle.load(sys.stdin.buffer)
    except EOFError:
        # A warm child whose parent went away before handing it a job (killed, or stopping):
        # nothing to do and nobody to tell.
        return 1
    ready = 0

    def report(progress: TranscodeProgress) -> None:
        nonlocal ready
        if ready == 0 and progress.segments_ready > 0:
            # The first segment is what a player waits for: made at full priority. Then the
            # encoder yields to the gateway, which must stay responsive however many run.
            os.nice(_NICENESS)
        ready = progress.segments_ready
        _send(channel, {"type": "progress", **asdict(progress)})

    def run(encoder_name: str, encoder_options: dict[str, str]) -> None:
        transcode_segments(
            job.source,
            job.out_dir,
            job.variant,
            job.plan,
            start_segment=job.start_segment,
            end_segment=job.end_segment,
            audio_stream_index=job.audio_stream_index,
            encoder_name=encoder_name,
            encoder_options=encoder_options,
            on_progress=report,
            should_stop=stop.is_set,
            burn_subtitle_index=job.burn_subtitle_index,
        )

    try:
        try:
            run(job.encoder_name, job.encoder_options)
        except TranscodeError as error:
            # A hardware encoder that fails (to open, or while encoding) gives way to software:
            # the run starts again at its first segment; any segment already written is
            # written again (renamed into place whole, so a reader never sees half of one).
            fallback = software_encoder(codec_of(job.encoder_name), error.message)
            if error.code != "ENCODER_FAILED" or fallback.name == job.encoder_name:
                raise
            _send(channel, {"type": "encoder", "name": fallback.name, "reason": error.message})
            run(fallback.name, dict(fallback.options))
    except TranscodeError as error:
        failure = {"code": error.code, "message": error.message}
        _send(channel, {"type": "result", "status": "failed", "segments_ready": ready, **failure})
        return 1
    except Exception as error:  # reported, not swallowed: the parent logs it
        failure = {"code": "INTERNAL", "message": f"{type(error).__name__}: {error}"}
        _send(channel, {"type": "result", "status": "failed", "segments_ready": ready, **failure})
        return 1
    status = "stopped" if stop.is_set() else "done"
    _send(channel, {"type": "result", "status": status, "segments_ready": ready})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
