"""The video encoders of this worker: chosen and probed here, where its children encode.

A gateway's GPU says nothing about the worker that runs a transcode, so a session records only
the codec; each worker finds its own encoder for it, once per codec (hardware detection opens
encoders: off the event loop), under its own ``transcode.hardware`` preference. A hardware
encoder that fails a transcode (the child falls back to software by itself) is not tried again
by this worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from media.hls.encoders import EncoderChoice, EncoderProbe, choose_encoder, software_encoder

__all__ = ["WorkerEncoders"]

log = structlog.get_logger("revenge.transcoder")


class WorkerEncoders:
    def __init__(
        self, preference: str = "auto", probes: Sequence[EncoderProbe] | None = None
    ) -> None:
        """``probes`` replaces this machine's detection (tests)."""
        self.preference = preference
        self._probes = probes
        self._choices: dict[str, asyncio.Future[EncoderChoice]] = {}

    def warm(self, codec: str = "h264") -> None:
        """Start finding the encoder for ``codec`` now, so the first transcode need not wait."""
        self._choice(codec)

    async def for_codec(self, codec: str) -> EncoderChoice:
        return await asyncio.shield(self._choice(codec))

    def failed(self, codec: str, encoder: str, reason: str) -> None:
        """``encoder`` failed a transcode here: this worker uses software for ``codec`` now."""
        log.warning("encoder fallback", encoder=encoder, reason=reason)
        done: asyncio.Future[EncoderChoice] = asyncio.get_running_loop().create_future()
        done.set_result(software_encoder(codec, f"{encoder} failed: {reason}"))
        self._choices[codec] = done

    def _choice(self, codec: str) -> asyncio.Future[EncoderChoice]:
        choice = self._choices.get(codec)
        if choice is None or (choice.done() and choice.exception() is not None):
            choice = asyncio.ensure_future(self._choose(codec))
            self._choices[codec] = choice
        return choice

    async def _choose(self, codec: str) -> EncoderChoice:
        choice = await asyncio.to_thread(
            choose_encoder, codec, self.preference, probes=self._probes
        )
        if choice.reason:
            log.warning("encoder fallback", encoder=choice.name, reason=choice.reason)
        log.info("video encoder", codec=codec, encoder=choice.name, kind=choice.kind)
        return choice

    async def close(self) -> None:
        for choice in self._choices.values():
            choice.cancel()
        await asyncio.gather(*self._choices.values(), return_exceptions=True)
