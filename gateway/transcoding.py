"""Opening and closing what transcoding needs in one process.

Every process that starts playback sessions (a gateway) gets the codec sessions are made in
(H.264; the gateway probes no hardware), the way to defer transcode jobs, and an HTTP client to
proxy segments from other workers. A process that runs transcode jobs (``revenge serve``'s
in-process worker, ``revenge worker``) also gets its scratch folder, cleaned of dead workers'
leftovers, and the ``Transcoder`` that runs the encoders, with a job worker of its own on the
``transcodes`` queue; the Transcoder finds its own encoder (``transcode.hardware``) at start.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import structlog

from infra.bus import EventBus
from infra.jobs import JobQueue, stop_worker
from infra.keyvalue import KeyValue, open_keyvalue
from infra.settings import Settings
from media.hls.encoders import software_encoder
from media.hls.scratch import Scratch
from resolvers.playback.hls_sessions import Transcoding
from resolvers.playback.transcode_jobs import TRANSCODE_QUEUE, defer_transcode
from resolvers.playback.transcoder import Transcoder

__all__ = ["TranscodingServices", "open_transcoding"]

log = structlog.get_logger("revenge.transcoding")

# Runs wait for an encoder slot as jobs; this many may wait per slot before the queue holds them.
JOBS_PER_SLOT = 4


@dataclass
class TranscodingServices:
    transcoding: Transcoding
    http: httpx.AsyncClient
    addresses: KeyValue
    scratch: Scratch | None = None
    transcoder: Transcoder | None = None
    worker: asyncio.Task[None] | None = None

    def services(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "transcoding": self.transcoding,
            "http": self.http,
            "transcode_addresses": self.addresses,
        }
        if self.transcoder is not None:
            found["transcoder"] = self.transcoder
        return found

    def start_worker(self, jobs: JobQueue, context: dict[str, Any], settings: Settings) -> None:
        """The job worker of the ``transcodes`` queue (this process must hold a transcoder)."""
        assert self.transcoder is not None
        self.worker = jobs.start_worker(
            concurrency=settings.transcode_max_per_worker * JOBS_PER_SLOT,
            queues=[TRANSCODE_QUEUE],
            name="transcode worker",
            additional_context={**context, "transcoder": self.transcoder},
        )

    async def close(self) -> None:
        if self.worker is not None:
            await stop_worker(self.worker)
        if self.transcoder is not None:
            await self.transcoder.close()
        if self.scratch is not None:
            await asyncio.to_thread(self.scratch.close)
        await self.http.aclose()
        await self.addresses.close()


async def open_transcoding(
    settings: Settings,
    pool: asyncpg.Pool,
    bus: EventBus,
    jobs: JobQueue,
    *,
    address: str,
    lease_seconds: float,
    runs_jobs: bool,
) -> TranscodingServices:
    """``address``: where other processes reach this one's ``/internal/hls`` route."""
    # Sessions record the codec (its software encoder); each worker encodes it with its own.
    encoder = software_encoder("h264")

    async def defer(session_id: uuid.UUID, variant: str, run_id: uuid.UUID) -> None:
        await defer_transcode(jobs, session_id, variant, run_id)

    opened = TranscodingServices(
        transcoding=Transcoding(encoder=encoder, defer=defer),
        http=httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0)),
        addresses=open_keyvalue(settings.cache_url),
    )
    if runs_jobs:
        scratch = Scratch(settings.effective_scratch_dir, settings.transcode_scratch_max_mb << 20)
        removed = await asyncio.to_thread(scratch.open)
        if removed:
            log.info("scratch left by dead workers removed", folders=len(removed))
        opened.scratch = scratch
        opened.transcoder = Transcoder(
            pool,
            bus,
            scratch,
            address=settings.worker_address or address,
            max_concurrent=settings.transcode_max_per_worker,
            lease_seconds=lease_seconds,
            addresses=opened.addresses,
            encoder_preference=settings.transcode_hardware,
        )
        opened.transcoder.warm()
    return opened
