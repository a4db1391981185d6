"""Transcodes as jobs on the job queue (``infra.jobs``).

A gateway that needs a segment with no live encoder run writes a queued run
(``transcodes.request_run``) and defers ``playback:transcode`` on the ``transcodes`` queue. The
worker that takes it hands it to its process's ``Transcoder`` (``additional_context``
``transcoder``), which claims the run and supervises the encoder until the session's lease
lapses. A job of a run that was replaced meanwhile (its worker died, a newer run exists) ends at
once. Transcodes have their own queue because a run lasts as long as its playback session: the
worker gives that queue slots of its own, so long sessions never hold up scans.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import structlog
from procrastinate import Blueprint, JobContext

from infra.jobs import JobQueue

__all__ = ["NAMESPACE", "TRANSCODE_QUEUE", "TRANSCODE_TASK", "blueprint", "defer_transcode"]

log = structlog.get_logger("revenge.transcode")

NAMESPACE = "playback"
TRANSCODE_QUEUE = "transcodes"
TRANSCODE_TASK = f"{NAMESPACE}:transcode"


def blueprint() -> Blueprint:
    tasks = Blueprint()
    tasks.task(name="transcode", queue=TRANSCODE_QUEUE, pass_context=True)(transcode)
    return tasks


async def transcode(context: JobContext, session_id: str, variant: str, run_id: str) -> None:
    extra: dict[str, Any] = context.additional_context
    transcoder = extra.get("transcoder")
    if transcoder is None:
        raise RuntimeError("this worker runs no transcoder")
    try:
        outcome = await transcoder.run(uuid.UUID(session_id), variant, uuid.UUID(run_id))
    except asyncio.CancelledError:
        # Its worker is stopping: the transcoder marks the run stopped, and the next segment
        # request starts a new run on a worker that lives. Nothing to retry or report.
        log.info("transcode run stopped with its worker", session_id=session_id, variant=variant)
        return
    log.info("transcode run ended", session_id=session_id, variant=variant, outcome=outcome)


async def defer_transcode(
    jobs: JobQueue, session_id: uuid.UUID, variant: str, run_id: uuid.UUID
) -> None:
    await jobs.defer(
        TRANSCODE_TASK,
        queue=TRANSCODE_QUEUE,
        session_id=str(session_id),
        variant=variant,
        run_id=str(run_id),
    )
