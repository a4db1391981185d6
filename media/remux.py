"""Remux: copy a file's video and one audio stream, unchanged, into fragmented MP4 as it is read.

A player that decodes the codecs but not the container (Matroska in a browser or on a TV) needs
new packaging, not new pictures: a stream copy costs a small fraction of a transcode. Fragmented
MP4 (``empty_moov`` and a ``moof`` per video keyframe) lets bytes leave before the end, so the
result is served as a non-seekable stream; a start position seeks to the keyframe at or before it.

PyAV blocks, so each remux runs in its own thread and hands chunks to the event loop through a
bounded queue: a slow client blocks the thread, and memory stays near ``QUEUE_CHUNKS *
CHUNK_BYTES`` plus one fragment (one GOP). Closing the iterator (the client left) sets a stop
flag that the sink and the packet loop check, so the thread ends promptly and closes both
containers. ``delay_moov`` is on because FFmpeg refuses to write an AC-3/E-AC-3 track's header
before it has seen a packet; it holds the (empty) ``moov`` back until the first fragment is cut.

The codec sets were checked by remuxing real files with PyAV 18 (FFmpeg 8): every codec below
copies and (except AV1, which this PyAV build cannot decode) decodes back. PCM fails at the
header ("unsupported channel layout"); Vorbis and MP2 mux, but MP4 players do not play them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
from av.container import InputContainer
from av.packet import Packet
from av.stream import Disposition, Stream

__all__ = [
    "MAX_START_MS",
    "MP4_AUDIO_CODECS",
    "MP4_VIDEO_CODECS",
    "NotRemuxable",
    "RemuxBusy",
    "RemuxError",
    "RemuxStream",
    "StreamNotFound",
    "mp4_copy_problem",
    "remux_chunks",
]

MP4_VIDEO_CODECS = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4"})
MP4_AUDIO_CODECS = frozenset({"aac", "ac3", "eac3", "mp3", "opus", "flac", "alac"})
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+delay_moov"
CHUNK_BYTES = 64 * 1024
QUEUE_CHUNKS = 32
MAX_START_MS = 7 * 24 * 60 * 60 * 1000
_PUT_POLL_SECONDS = 0.1


class RemuxError(Exception):
    """A remux that cannot start; raised before any byte is written."""


class NotRemuxable(RemuxError):
    """A selected stream's codec cannot be copied into MP4."""


class StreamNotFound(RemuxError):
    """The requested audio stream is not an audio stream of the file, or nothing is playable."""


class RemuxBusy(RemuxError):
    """Every remux slot is taken."""


class _Stopped(Exception):
    """The consumer left; raised in PyAV's write callback and the packet loop to unwind."""


def mp4_copy_problem(video_codec: str | None, audio_codec: str | None) -> str | None:
    """Why these codecs (FFmpeg canonical names) cannot be stream-copied into MP4, or None."""
    if video_codec is not None and video_codec.lower() not in MP4_VIDEO_CODECS:
        return f"video codec {video_codec} cannot be copied into MP4"
    if audio_codec is not None and audio_codec.lower() not in MP4_AUDIO_CODECS:
        return f"audio codec {audio_codec} cannot be copied into MP4"
    return None


def _codec(stream: Stream) -> str:
    return str(stream.codec_context.codec.canonical_name)


def _select(container: InputContainer, audio_stream_index: int | None) -> list[Stream]:
    video = next(
        (s for s in container.streams.video if not s.disposition & Disposition.attached_pic), None
    )
    if audio_stream_index is None:
        audios = list(container.streams.audio)
        audio = next(
            (s for s in audios if s.disposition & Disposition.default),
            audios[0] if audios else None,
        )
    else:
        audio = next((s for s in container.streams.audio if s.index == audio_stream_index), None)
        if audio is None:
            raise StreamNotFound(f"stream {audio_stream_index} is not an audio stream")
    if video is None and audio is None:
        raise StreamNotFound("the file has no video or audio stream")
    problem = mp4_copy_problem(
        None if video is None else _codec(video), None if audio is None else _codec(audio)
    )
    if problem is not None:
        raise NotRemuxable(problem)
    if audio is not None and _codec(audio) == "aac" and not audio.codec_context.extradata:
        # ADTS (MPEG-TS, raw .aac) needs the aac_adtstoasc filter, which this copy lacks.
        raise NotRemuxable("ADTS AAC audio cannot be copied into MP4")
    return [stream for stream in (video, audio) if stream is not None]


def _seek(container: InputContainer, lead: Stream, start_ms: int) -> None:
    if start_ms > 0 and lead.time_base is not None:  # to the keyframe at or before start_ms
        offset = int(start_ms / 1000 / lead.time_base)
        container.seek(offset, stream=lead, backward=True, any_frame=False)


def _copy(
    container: InputContainer,
    selected: list[Stream],
    sink: Any,
    start_ms: int,
    should_stop: Callable[[], bool],
    on_ready: Callable[[], None],
) -> None:
    output = av.open(sink, "w", format="mp4", options={"movflags": MOVFLAGS})
    try:
        # opaque: a decoder-only codec (libdav1d for AV1) has no encoder to name the stream by.
        targets = {s.index: output.add_stream_from_template(s, opaque=True) for s in selected}
        for source in selected:
            if _codec(source) == "hevc":
                # Apple's players want HEVC tagged hvc1 (parameter sets in the sample entry);
                # FFmpeg's default hev1 plays everywhere else but not in Safari or on iOS.
                targets[source.index].codec_tag = "hvc1"
        try:
            output.start_encoding()  # the header: FFmpeg's own refusals come here, before bytes
        except av.FFmpegError as error:
            raise NotRemuxable(f"FFmpeg cannot write this MP4: {error}") from None
        on_ready()
        _seek(container, selected[0], start_ms)
        # Matroska gives no dts to the first packets of a stream with B-frames (the keyframe
        # among them); they wait for the first dts and get earlier ones, as the ffmpeg CLI does.
        waiting: dict[int, list[Packet[Any]]] = {index: [] for index in targets}
        last_dts: dict[int, int] = {}
        for packet in container.demux(*selected):
            if should_stop():
                raise _Stopped
            index = packet.stream.index
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            if packet.dts is None:
                waiting[index] = [*waiting[index][-63:], packet]  # bounded, however odd the file
                continue
            backlog, waiting[index] = waiting[index], []
            step = max(1, packet.duration or 1)
            for position, early in enumerate(backlog):
                early.dts = packet.dts - (len(backlog) - position) * step
            for ready in (*backlog, packet):
                assert ready.dts is not None
                if ready.dts <= last_dts.get(index, ready.dts - 1):
                    continue  # no room for an earlier dts: drop rather than break the muxer
                if ready.pts is None:
                    ready.pts = ready.dts
                last_dts[index] = ready.dts
                ready.stream = targets[index]
                output.mux(ready)
        output.close()  # the last fragment
    finally:
        with contextlib.suppress(Exception):  # stopped: the trailer cannot be written
            output.close()


def _remux(
    path: str, audio: int | None, start_ms: int, sink: Any, stop: Any, on_ready: Any
) -> None:
    with av.open(path, "r") as container:
        _copy(container, _select(container, audio), sink, start_ms, stop.is_set, on_ready)


class _Sink:
    """Coalesces PyAV's small writes into ``CHUNK_BYTES`` chunks for a bounded queue."""

    def __init__(self, put: Callable[[bytes], None]) -> None:
        self.put = put
        self.buffer = bytearray()
        self.held = True  # until the checks pass: nothing precedes the ready signal

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= CHUNK_BYTES:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buffer and not self.held:
            chunk, self.buffer = bytes(self.buffer), bytearray()
            self.put(chunk)


_READY = object()
_END = object()


class RemuxStream:
    """An async iterator of fragmented-MP4 chunks made by one worker thread.

    ``start()`` answers once the file is open and checked (raising ``RemuxError`` and friends
    before any byte); ``aclose()`` stops the thread, waits for it and frees the slot.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        audio_stream_index: int | None = None,
        start_ms: int = 0,
        queue_chunks: int = QUEUE_CHUNKS,
    ) -> None:
        self._args = (os.fspath(path), audio_stream_index, start_ms)
        self._slots: asyncio.Semaphore | None = None
        self._chunks: queue.Queue[object] = queue.Queue(queue_chunks)
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()
        self._thread: threading.Thread | None = None
        self._finished: asyncio.Future[None] | None = None
        self._done = False

    async def start(self, slots: asyncio.Semaphore | None = None) -> RemuxStream:
        """Take a slot (``RemuxBusy`` when none is free), open and check the file."""
        if slots is not None:
            if slots.locked():
                raise RemuxBusy("every remux slot is busy")
            await slots.acquire()  # free: answers at once
            self._slots = slots
        self._loop = asyncio.get_running_loop()
        self._finished = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name="remux", daemon=True)
        self._thread.start()
        try:
            await self._next_item()  # _READY, or the error that stopped the thread
        except BaseException:
            await self.aclose()
            raise
        return self

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._chunks.put(item, timeout=_PUT_POLL_SECONDS)
                self._notify(self._ready.set)
                return
        raise _Stopped

    def _notify(self, callback: Callable[[], object]) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            self._loop.call_soon_threadsafe(callback)

    def _run(self) -> None:
        sink = _Sink(self._put)

        def on_ready() -> None:
            self._put(_READY)
            sink.held = False

        try:
            with contextlib.suppress(_Stopped):
                try:
                    _remux(*self._args, sink, self._stop, on_ready)
                    sink.flush()
                    self._put(_END)
                except _Stopped:
                    raise
                except BaseException as error:  # handed to the consumer, raised there
                    self._put(error)
        finally:
            self._notify(self._finish)

    def _finish(self) -> None:
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(None)

    async def _next_item(self) -> object:
        while True:
            try:
                item = self._chunks.get_nowait()
            except queue.Empty:
                self._ready.clear()
                try:
                    item = self._chunks.get_nowait()
                except queue.Empty:
                    await self._ready.wait()
                    continue
            if isinstance(item, BaseException):
                raise item
            return item

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        item = await self._next_item()
        if item is _END:
            self._done = True
            await self.aclose()
            raise StopAsyncIteration
        assert isinstance(item, bytes)
        return item

    async def aclose(self) -> None:
        """Stop the thread (it closes both containers), wait for it, free the slot."""
        self._done = True
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:  # unblock a thread waiting for room
                self._chunks.get_nowait()
        try:
            if self._finished is not None:
                await asyncio.shield(self._finished)
            if self._thread is not None:
                self._thread.join()
        finally:
            slots, self._slots = self._slots, None
            if slots is not None:
                slots.release()


async def remux_chunks(
    path: str | os.PathLike[str],
    *,
    audio_stream_index: int | None = None,
    start_ms: int = 0,
    slots: asyncio.Semaphore | None = None,
) -> AsyncIterator[bytes]:
    """Fragmented-MP4 chunks of ``path``; ``aclose()`` (``contextlib.aclosing``), or a
    cancellation while it waits for a chunk, stops the thread."""
    stream = RemuxStream(path, audio_stream_index=audio_stream_index, start_ms=start_ms)
    await stream.start(slots)
    try:
        async for chunk in stream:
            yield chunk
    finally:
        await stream.aclose()
