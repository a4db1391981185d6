"""Transcoding end to end: startPlayback answers an HLS master playlist, a real demuxer (PyAV's
HLS reader over HTTP) plays and seeks it, every segment of every variant decodes, durations add
up, audio and video stay together, subtitles come as a WebVTT rendition, and a corrupt source
fails with a code instead of a hang."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

import asyncpg
import av
import httpx
from PIL import ImageStat

from infra.keyvalue import RedisKeyValue
from resolvers.playback.transcodes import cached_address
from tests.gateway.test_app import Running, running_app
from tests.gateway.test_playback import asker, scanned_viewer
from tests.support.media_files import add_dvd_subtitle, make_video

START = """
mutation ($id: ID!) {
  startPlayback(itemId: $id, deviceProfileName: "chromium") {
    __typename
    ... on PlaybackSession { id streamUrl decision { method encoder reasons targetContainer } }
    ... on PlaybackError { code message }
  }
}"""

SECONDS = 20.0


def _lines(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def _segment_facts(data: bytes) -> tuple[float, float, float, int]:
    """(first video time, first audio time, video duration, frames) of one TS segment."""
    with av.open(io.BytesIO(data), format="mpegts") as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        first_video = first_audio = None
        last_video = 0.0
        frames = 0
        for frame in container.decode(video, audio):
            seconds = float(frame.pts * frame.time_base)
            if isinstance(frame, av.VideoFrame):
                frames += 1
                first_video = seconds if first_video is None else first_video
                last_video = seconds
            elif first_audio is None:
                first_audio = seconds
        assert first_video is not None and first_audio is not None
        rate = float(video.average_rate or 24)
        return first_video, first_audio, last_video - first_video + 1 / rate, frames


def _play_and_seek(url: str, target: float) -> tuple[int, float]:
    """PyAV's HLS demuxer: decode from the start, then seek; (frames decoded, landed at)."""
    with av.open(url, timeout=30) as container:
        stream = container.streams.video[0]
        frames = 0
        for _ in container.decode(stream):
            frames += 1
            if frames == 10:
                break
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        container.seek(int((start + target) / stream.time_base), stream=stream)
        landed = next(iter(container.decode(stream)))
        return frames, float(landed.pts * landed.time_base) - start


async def test_a_transcode_plays_seeks_and_carries_subtitles(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(
        movies / "Old Times (2001).avi",
        seconds=SECONDS,
        width=640,
        height=360,
        codec="mpeg4",
        audio="mp3",
    )
    (movies / "Old Times (2001).en.srt").write_text(
        "1\n00:00:02,000 --> 00:00:04,000\nHello\n", encoding="utf-8"
    )
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        ask = asker(client, await scanned_viewer(client, pool, movies))
        [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]

        session = (await ask(START, {"id": item["id"]}))["startPlayback"]

        assert session["__typename"] == "PlaybackSession", session
        assert session["decision"]["method"] == "TRANSCODE"
        assert session["decision"]["encoder"] == "libx264"
        assert session["decision"]["targetContainer"] == "mpegts"  # what the segments below are
        assert session["streamUrl"].startswith(f"/hls/{session['id']}/master.m3u8?")
        master = (await client.get(session["streamUrl"])).text
        assert 'TYPE=SUBTITLES,GROUP-ID="subs"' in master and 'LANGUAGE="en' in master
        variants = _lines(master)
        assert [v.split("/")[0] for v in variants] == ["360p"]
        base = session["streamUrl"].rsplit("/", 1)[0]
        total = 0.0
        for variant in variants:
            playlist = (await client.get(f"{base}/{variant}")).text
            assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
            folder = f"{base}/{variant.split('/')[0]}"
            for number, uri in enumerate(_lines(playlist)):
                response = await client.get(f"{folder}/{uri}")
                assert response.status_code == 200, response.text
                assert response.headers["content-type"] == "video/mp2t"
                first_video, first_audio, duration, frames = await asyncio.to_thread(
                    _segment_facts, response.content
                )
                assert frames > 0
                assert abs(first_video - first_audio) <= 0.1, (number, first_video, first_audio)
                total += duration
        assert abs(total - SECONDS) <= 6.0
        frames, landed = await asyncio.to_thread(
            _play_and_seek, app.url + session["streamUrl"], SECONDS * 0.7
        )
        assert frames == 10
        assert abs(landed - SECONDS * 0.7) <= 6.0
        rendition = next(line for line in master.splitlines() if "TYPE=SUBTITLES" in line)
        subtitle_uri = rendition.split('URI="')[1].rstrip('"')
        subtitle_playlist = (await client.get(f"{base}/{subtitle_uri}")).text
        vtt = (await client.get(_lines(subtitle_playlist)[0])).text
        assert vtt.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n")
        assert "00:00:02.000 --> 00:00:04.000\nHello" in vtt


async def test_a_corrupt_source_fails_with_a_code(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    film = make_video(
        movies / "Broken (2002).avi", seconds=8, width=320, height=240, codec="mpeg4", audio="mp3"
    )
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        ask = asker(client, await scanned_viewer(client, pool, movies))
        [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]
        session = (await ask(START, {"id": item["id"]}))["startPlayback"]
        film.write_bytes(b"\0" * 4096)  # the file rots after the scan

        master = (await client.get(session["streamUrl"])).text
        base = session["streamUrl"].rsplit("/", 1)[0]
        variant = _lines(master)[0].split("/")[0]
        query = session["streamUrl"].split("?", 1)[1]
        answer = await client.get(f"{base}/{variant}/seg_00000.ts?{query}")

        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "TRANSCODE_FAILED"
        again = await client.get(f"{base}/{variant}/seg_00001.ts?{query}")
        assert again.status_code == 422, again.text


async def test_only_the_audio_is_transcoded_when_the_video_fits(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Dolby (2005).mkv", seconds=14, width=320, height=240, audio="ac3")
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        ask = asker(client, await scanned_viewer(client, pool, movies))
        [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]

        session = (await ask(START, {"id": item["id"]}))["startPlayback"]

        assert session["decision"]["method"] == "TRANSCODE"
        assert session["decision"]["reasons"] == [
            "CONTAINER_UNSUPPORTED",
            "AUDIO_CODEC_UNSUPPORTED",
        ]
        assert session["decision"]["encoder"] is None  # no video encoder: the video is copied
        master = (await client.get(session["streamUrl"])).text
        [variant] = _lines(master)
        assert variant.startswith("source/index.m3u8?")
        assert 'CODECS="avc1.' in master and "mp4a.40.2" in master
        base = session["streamUrl"].rsplit("/", 1)[0]
        playlist = (await client.get(f"{base}/{variant}")).text
        frames_total = 0
        for uri in _lines(playlist):
            response = await client.get(f"{base}/source/{uri}")
            assert response.status_code == 200, response.text
            first_video, first_audio, _, frames = await asyncio.to_thread(
                _segment_facts, response.content
            )
            assert abs(first_video - first_audio) <= 0.1
            frames_total += frames
        assert frames_total == 14 * 24  # every source frame, copied


BURN = """
mutation ($id: ID!, $sub: Int) {
  startPlayback(itemId: $id, deviceProfileName: "chromium", subtitleStream: $sub) {
    __typename
    ... on PlaybackSession {
      streamUrl decision { method reasons subtitleStream subtitleDelivery }
      subtitles { index codec isText }
    }
    ... on PlaybackError { code message }
  }
}"""


def _box_luma(data: bytes, at: float) -> float:
    """The mean luma of the caption box (320x240 frame, box 100..220 x 180..220) in the first
    frame at or after ``at`` seconds of the source."""
    with av.open(io.BytesIO(data), format="mpegts") as container:
        for frame in container.decode(video=0):
            if float(frame.time or 0) - 10.0 >= at:
                image = frame.to_image().convert("L")
                box = image.crop((100, 180, 220, 220))
                return float(ImageStat.Stat(box).mean[0])
    raise AssertionError("no frame at that time")


async def test_an_image_subtitle_asked_for_is_burnt_in(
    app: Running, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    plain = make_video(tmp_path / "plain.mkv", seconds=8, width=320, height=240, audio="aac")
    add_dvd_subtitle(plain, movies / "Captions (2006).mkv", [(1.0, 4.0, (100, 180, 120, 40))])
    async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
        ask = asker(client, await scanned_viewer(client, pool, movies))
        [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]
        listed = (await ask(BURN, {"id": item["id"], "sub": None}))["startPlayback"]
        [track] = listed["subtitles"]
        assert (track["codec"], track["isText"]) == ("dvd_subtitle", False)

        session = (await ask(BURN, {"id": item["id"], "sub": track["index"]}))["startPlayback"]

        assert session["decision"]["method"] == "TRANSCODE"
        assert "SUBTITLE_NEEDS_BURN_IN" in session["decision"]["reasons"]
        assert session["decision"]["subtitleDelivery"] == "BURN_IN"
        master = (await client.get(session["streamUrl"])).text
        base = session["streamUrl"].rsplit("/", 1)[0]
        variant = _lines(master)[0]
        folder = f"{base}/{variant.split('/')[0]}"
        first = _lines((await client.get(f"{base}/{variant}")).text)[0]
        segment = await client.get(f"{folder}/{first}")
        assert segment.status_code == 200, segment.text
        during = await asyncio.to_thread(_box_luma, segment.content, 2.0)
        before = await asyncio.to_thread(_box_luma, segment.content, 0.0)
        assert during > 200 and during - before > 60, (before, during)


async def test_with_redis_the_segment_route_finds_the_worker_in_the_map(
    pool: asyncpg.Pool, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    movies = tmp_path / "movies"
    movies.mkdir()
    make_video(movies / "Mapped (2007).avi", seconds=14, width=320, height=240, codec="mpeg4")
    with running_app(database_url, tmp_path / "data", REVENGE_CACHE_URL=redis_url) as app:
        async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
            ask = asker(client, await scanned_viewer(client, pool, movies))
            [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]
            session = (await ask(START, {"id": item["id"]}))["startPlayback"]
            base = session["streamUrl"].rsplit("/", 1)[0]
            variant = _lines((await client.get(session["streamUrl"])).text)[0]
            name = variant.split("/")[0]
            uris = _lines((await client.get(f"{base}/{variant}")).text)

            first = await client.get(f"{base}/{name}/{uris[0]}")
            store = RedisKeyValue(redis_url)  # this loop's own client on the same Redis
            try:
                mapped = await cached_address(store, uuid.UUID(session["id"]), name)
            finally:
                await store.close()
            second = await client.get(f"{base}/{name}/{uris[1]}")

            assert (first.status_code, second.status_code) == (200, 200)
            transcoder = app.app.state.services["transcoder"]
            assert mapped is not None and mapped.worker_id == transcoder.worker_id
