"""Remux into fragmented MP4 with real files: the copy is bit-exact, the chosen audio goes along,
a start position lands on the keyframe before it, bad codecs refuse early, and leaving mid-way
leaves no thread or file descriptor behind."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import threading
from pathlib import Path

import av
import pytest

from media.remux import (
    NotRemuxable,
    RemuxBusy,
    RemuxStream,
    StreamNotFound,
    mp4_copy_problem,
    remux_chunks,
)
from tests.support.media_files import make_video


def with_second_audio(path: Path, extra: Path, target: Path) -> Path:
    """``path``'s streams plus ``extra``'s audio, copied into one Matroska file."""
    with (
        av.open(str(path)) as first,
        av.open(str(extra)) as second,
        av.open(str(target), "w", format="matroska") as output,
    ):
        sources = [*first.streams, second.streams.audio[0]]
        targets = {id(s): output.add_stream_from_template(s, opaque=True) for s in sources}
        for container, streams in ((first, list(first.streams)), (second, sources[-1:])):
            for packet in container.demux(*streams):
                if packet.size:
                    packet.stream = targets[
                        id(streams[[s.index for s in streams].index(packet.stream.index)])
                    ]
                    output.mux(packet)
    return target


@pytest.fixture
def film(tmp_path: Path) -> Path:
    main = make_video(tmp_path / "main.mkv", seconds=2, subtitle=True, audio="aac")
    dubbed = make_video(tmp_path / "dub.mkv", seconds=2, audio="ac3")
    return with_second_audio(main, dubbed, tmp_path / "Heat (1995).mkv")


async def remuxed(path: Path, **options: int | None) -> bytes:
    return b"".join([chunk async for chunk in remux_chunks(path, **options)])  # type: ignore[arg-type]


def video_packets(data: bytes | Path) -> list[bytes]:
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with av.open(source) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


async def test_the_copy_is_bit_exact_with_the_default_audio(film: Path) -> None:
    with av.open(str(film)) as source:
        assert [
            (s.index, s.type, s.codec_context.codec.canonical_name) for s in source.streams
        ] == [
            (0, "video", "h264"),
            (1, "audio", "aac"),
            (2, "subtitle", "subrip"),
            (3, "audio", "ac3"),
        ]
    data = await remuxed(film)
    with av.open(io.BytesIO(data)) as output:
        assert output.format.name.startswith("mov,mp4")
        assert [(s.type, s.codec_context.codec.canonical_name) for s in output.streams] == [
            ("video", "h264"),
            ("audio", "aac"),
        ]
        frames = list(output.decode(video=0))
    assert len(frames) == 48
    assert (frames[0].width, frames[0].height) == (320, 240)
    assert video_packets(data) == video_packets(film)


async def test_the_chosen_audio_stream_goes_along(film: Path) -> None:
    data = await remuxed(film, audio_stream_index=3)
    with av.open(io.BytesIO(data)) as output:
        assert [s.codec_context.codec.canonical_name for s in output.streams] == ["h264", "ac3"]
        assert sum(1 for _ in output.decode(audio=0)) == 63  # 2 s of 1536-sample AC-3 frames


async def test_a_start_position_begins_at_the_keyframe_before_it(tmp_path: Path) -> None:
    # FFmpeg's mpeg4 encoder puts a keyframe every 12 frames: every 0.5 s at 24 fps.
    path = make_video(tmp_path / "gop.mkv", seconds=4, codec="mpeg4")
    data = await remuxed(path, start_ms=2100)
    with av.open(io.BytesIO(data)) as output:
        first = next(output.decode(video=0))
    assert first.time == 2.0
    assert len(video_packets(data)) == 48


async def test_codecs_mp4_cannot_carry_refuse_before_any_byte(tmp_path: Path, film: Path) -> None:
    vorbis = make_video(tmp_path / "vorbis.mkv", audio="vorbis")
    received: list[bytes] = []
    with pytest.raises(NotRemuxable, match=r"^audio codec vorbis cannot be copied into MP4$"):
        async for chunk in remux_chunks(vorbis):
            received.append(chunk)
    assert received == []
    with pytest.raises(StreamNotFound, match=r"^stream 2 is not an audio stream$"):
        await remuxed(film, audio_stream_index=2)  # the subtitle track
    assert mp4_copy_problem("h264", "aac") is None
    assert (
        mp4_copy_problem("h264", "pcm_s16le") == "audio codec pcm_s16le cannot be copied into MP4"
    )
    assert (
        mp4_copy_problem("mpeg2video", None) == "video codec mpeg2video cannot be copied into MP4"
    )


@pytest.mark.parametrize(
    ("video", "audio"),
    [("hevc", "opus"), ("vp9", "flac"), ("mpeg4", "mp3"), ("h264", "ac3")],
)
async def test_each_listed_codec_copies(tmp_path: Path, video: str, audio: str) -> None:
    path = make_video(tmp_path / "clip.mkv", codec=video, audio=audio)
    data = await remuxed(path)
    with av.open(io.BytesIO(data)) as output:
        assert [s.codec_context.codec.canonical_name for s in output.streams] == [video, audio]
        assert sum(1 for _ in output.decode(video=0)) == 24  # B-frame sources keep every frame


async def test_hevc_is_tagged_hvc1_for_apple_players(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mkv", codec="hevc", audio="aac")

    data = await remuxed(path)

    with av.open(io.BytesIO(data)) as output:
        assert output.streams.video[0].codec_tag == "hvc1"


def descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def test_closing_after_the_first_chunk_stops_the_thread(tmp_path: Path) -> None:
    path = make_video(
        tmp_path / "big.mkv", seconds=1, width=1920, height=1080, fps=240, codec="mpeg4"
    )
    threads, fds = threading.active_count(), descriptors()
    stream = await RemuxStream(path, queue_chunks=1).start()
    first = await anext(stream)
    assert first[4:8] == b"ftyp"
    assert threading.active_count() == threads + 1  # the thread waits for room
    await stream.aclose()
    assert threading.active_count() == threads
    assert descriptors() == fds

    reading = asyncio.Event()

    async def consume() -> None:  # a cancelled consumer closes what it iterates
        async with contextlib.aclosing(remux_chunks(path)) as chunks:
            async for _ in chunks:
                reading.set()
                await asyncio.sleep(3600)

    task = asyncio.create_task(consume())
    await reading.wait()
    assert threading.active_count() == threads + 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert threading.active_count() == threads
    assert descriptors() == fds


async def test_a_full_house_answers_busy(film: Path) -> None:
    slots = asyncio.Semaphore(1)
    stream = await RemuxStream(film).start(slots)
    with pytest.raises(RemuxBusy):
        await RemuxStream(film).start(slots)
    await stream.aclose()
    second = await RemuxStream(film).start(slots)  # the slot came back
    await second.aclose()
    assert not slots.locked()
