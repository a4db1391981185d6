"""A `revenge worker` killed with SIGKILL in the middle of a transcode loses nothing for good.

A gateway that runs no transcoder proxies a player's segments from a worker process. The worker's
process group is killed while its encoder runs: the encoders die with it, the run's heartbeat
goes stale, the gateway answers the player with a clear code instead of hanging, and a second
worker deletes the dead one's scratch folder at start, takes the queued run and serves the next
segment. A clean stop of that worker leaves no process and no folder behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import av
import httpx
import pytest

from gateway import hls_routes
from resolvers.playback.transcodes import EncoderRun, encoder_run
from tests.gateway.conftest import free_port
from tests.gateway.test_app import REVENGE_ENV_CLEAN, Running, running_app
from tests.gateway.test_cli import REVENGE
from tests.gateway.test_playback import asker, scanned_viewer
from tests.support.media_files import make_video

START = """
mutation ($id: ID!) {
  startPlayback(itemId: $id, deviceProfileName: "chromium") {
    __typename
    ... on PlaybackSession { id streamUrl decision { method encoder } }
    ... on PlaybackError { code message }
  }
}"""
PROGRESS = """
mutation ($s: ID!, $ms: Int!) {
  reportProgress(sessionId: $s, positionMs: $ms, isPaused: false) { __typename }
}"""

# 1080p keeps the encoder busy long after segment 0 (a smaller film is done within a second or
# two), so the kill lands mid-transcode; mpeg4 and mp3 in AVI make chromium need a TRANSCODE.
SECONDS = 40.0
ENCODER_MODULE = "media.hls.process"


# -- processes -------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time in clock ticks) from /proc, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and brackets
    return fields[0], int(fields[1]), int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(root: int) -> dict[tuple[int, int], str]:
    """Every live process under ``root``: (pid, start time) → command line."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[1], []).append(int(entry))
    found: dict[tuple[int, int], str] = {}
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        stat = _stat(pid)
        if stat is not None and stat[0] not in "ZX":
            found[(pid, stat[2])] = _cmdline(pid)
        pending.extend(children.get(pid, []))
    return found


def alive(process: tuple[int, int]) -> bool:
    """The same process (pid and start time) still runs; a zombie no parent reaped has ended."""
    stat = _stat(process[0])
    return stat is not None and stat[2] == process[1] and stat[0] not in "ZX"


async def until(
    condition: Callable[[], Awaitable[Any]], seconds: float, what: str, poll: float = 0.1
) -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(poll)


class Worker:
    """`revenge worker` in a session of its own (killing its group kills all it started)."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    @classmethod
    async def start(cls, database_url: str, data_dir: Path, log: Path) -> Worker:
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                REVENGE,
                "worker",
                env={
                    **REVENGE_ENV_CLEAN(),
                    "REVENGE_DATABASE_URL": database_url,
                    "REVENGE_DATA_DIR": str(data_dir),
                    "REVENGE_SERVER_HOST": "127.0.0.1",
                    "REVENGE_WORKER_HTTP_PORT": str(free_port()),
                    "REVENGE_PROBE_WORKERS": "1",
                    "REVENGE_WORKER_CONCURRENCY": "1",
                },
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(process, log)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        if self.process.returncode is not None:
            raise AssertionError(f"the worker exited ({self.process.returncode}):\n{self.output}")
        return True

    async def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 30)


# -- media -----------------------------------------------------------------------------------


def decoded(data: bytes) -> tuple[int, int]:
    """(video frames, audio frames) PyAV decodes from one MPEG-TS segment."""
    with av.open(io.BytesIO(data), "r", format="mpegts") as container:
        video = audio = 0
        for frame in container.decode(*container.streams.video, *container.streams.audio):
            if isinstance(frame, av.VideoFrame):
                video += 1
            else:
                audio += 1
        return video, audio


def _lines(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


@pytest.fixture
def app(pool: asyncpg.Pool, database_url: str, tmp_path: Path) -> Iterator[Running]:
    """A gateway that runs no jobs and no transcoder: every segment comes from a worker."""
    with running_app(database_url, tmp_path / "data", REVENGE_WORKER_IN_PROCESS="false") as running:
        assert "transcoder" not in running.app.state.services
        yield running


async def test_a_worker_killed_mid_transcode_loses_nothing_permanent(
    app: Running,
    pool: asyncpg.Pool,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = tmp_path / "data"  # the gateway's: the stream signing key and the scratch root
    scratch = data_dir / "transcodes"
    movies = tmp_path / "movies"
    movies.mkdir()
    making = asyncio.create_task(
        asyncio.to_thread(
            make_video,
            movies / "Long Night (1999).avi",
            seconds=SECONDS,
            width=1920,
            height=1080,
            codec="mpeg4",
            audio="mp3",
        )
    )
    first = await Worker.start(database_url, data_dir, tmp_path / "first.log")
    second: Worker | None = None
    heartbeats: asyncio.Task[None] | None = None
    try:
        await making
        async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
            ask = asker(client, await scanned_viewer(client, pool, movies))  # the worker scans
            [item] = (await ask("{ items(kinds: [MOVIE]) { nodes { id } } }"))["items"]["nodes"]
            session = (await ask(START, {"id": item["id"]}))["startPlayback"]
            assert session["__typename"] == "PlaybackSession", session
            assert session["decision"] == {"method": "TRANSCODE", "encoder": "libx264"}
            session_id = uuid.UUID(session["id"])

            async def keep_reporting() -> None:  # a player's heartbeat, every second
                position = 0
                while True:
                    await ask(PROGRESS, {"s": session["id"], "ms": position})
                    position += 1000
                    await asyncio.sleep(1.0)

            heartbeats = asyncio.create_task(keep_reporting())
            master = (await client.get(session["streamUrl"])).text
            variant = _lines(master)[0].split("/")[0]
            assert variant == "1080p"
            base = session["streamUrl"].rsplit("/", 1)[0]
            query = session["streamUrl"].split("?", 1)[1]

            def segment_url(index: int) -> str:
                return f"{base}/{variant}/seg_{index:05d}.ts?{query}"

            async def current_run() -> EncoderRun:
                run = await encoder_run(pool, session_id, variant)
                assert run is not None
                return run

            # Given segment 0, proxied by the gateway from the worker, whose encoder goes on
            zero = await client.get(segment_url(0))
            encoders = {  # looked up at once: the encoder needs a few seconds more for the film
                process: command
                for process, command in descendants(first.process.pid).items()
                if ENCODER_MODULE in command
            }
            assert encoders, "the encoder finished before the kill: the test needs a longer film"
            assert zero.status_code == 200, zero.text
            assert zero.headers["content-type"] == "video/mp2t"
            killed_run = await current_run()
            dead_id = killed_run.worker_id
            assert dead_id is not None and f"-{first.process.pid}-" in dead_id
            assert killed_run.status == "running" and killed_run.is_alive
            dead_folder = scratch / dead_id
            assert (dead_folder / str(session_id) / variant / "seg_00000.ts").is_file()

            # When the worker's whole process group is killed mid-transcode
            await first.kill_group()

            # Then a segment asked for while the run still looks alive is a clear 503 to retry …
            unreachable = await client.get(segment_url(1))
            assert unreachable.status_code == 503, unreachable.text
            assert unreachable.headers["retry-after"] == "1"
            assert unreachable.json()["code"] == "WORKER_UNREACHABLE"
            # (the segment the player got before the kill is whole)
            video_frames, audio_frames = await asyncio.to_thread(decoded, zero.content)
            assert video_frames > 0 and audio_frames > 0

            # … its encoders are gone within seconds …
            async def encoders_gone() -> bool:
                return not any(alive(process) for process in encoders)

            await until(encoders_gone, 5, f"the encoders end: {encoders}")

            # … its run's heartbeat goes stale, nobody having touched the row …
            async def stale() -> bool:
                return not (await current_run()).is_alive

            await until(stale, 15, "the dead worker's run goes stale")
            stale_run = await current_run()
            assert (stale_run.run_id, stale_run.worker_id) == (killed_run.run_id, dead_id)

            # … and with no worker alive, the next segment is queued and answered 503
            claim_seconds = hls_routes.CLAIM_SECONDS
            monkeypatch.setattr(hls_routes, "CLAIM_SECONDS", 2.0)  # not 20 s: nobody will claim
            queued = await client.get(segment_url(1))
            assert queued.status_code == 503, queued.text
            assert queued.json()["code"] == "TRANSCODE_QUEUED"
            assert queued.headers["retry-after"] == "2"
            waiting = await current_run()
            assert (waiting.status, waiting.worker_id, waiting.requested_segment) == (
                "queued",
                None,
                1,
            )
            assert waiting.run_id != killed_run.run_id
            assert dead_folder.is_dir()  # nobody cleaned up yet
            monkeypatch.setattr(hls_routes, "CLAIM_SECONDS", claim_seconds)

            # When a second worker starts
            second = await Worker.start(database_url, data_dir, tmp_path / "second.log")
            worker = second  # a name the closures below see as set

            # Then it deletes the dead worker's scratch folder and takes the queued run …
            async def dead_folder_gone() -> bool:
                return worker.running() and not dead_folder.exists()

            await until(dead_folder_gone, 30, f"{dead_folder} is deleted")

            async def claimed() -> EncoderRun | None:
                run = await current_run()
                return run if worker.running() and run.worker_id is not None else None

            taken = await until(claimed, 30, "the second worker claims the queued run")
            assert taken.run_id == waiting.run_id
            assert taken.worker_id != dead_id and f"-{second.process.pid}-" in taken.worker_id

            # … and the player's next segment plays
            one = await client.get(segment_url(1))
            children = descendants(second.process.pid)  # its encoder still runs
            assert one.status_code == 200, one.text
            assert one.headers["content-type"] == "video/mp2t"
            video_frames, audio_frames = await asyncio.to_thread(decoded, one.content)
            assert video_frames > 0 and audio_frames > 0
            assert sorted(path.name for path in scratch.iterdir()) == [taken.worker_id]

            heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeats

        # When the second worker is stopped with SIGTERM
        assert any(ENCODER_MODULE in command for command in children.values()), children
        second.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.process.wait(), 30)

        # Then it exits cleanly, leaving no process, no scratch folder and no running job
        assert second.process.returncode == 0, second.output

        async def children_gone() -> bool:
            return not any(alive(process) for process in children)

        await until(children_gone, 10, f"the second worker's children end: {children}")
        assert list(scratch.iterdir()) == []
        # and no job is left running in the queue: the dead worker's was handed back at start
        doing = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
        assert await pool.fetchval(doing) == 0
    finally:
        if heartbeats is not None:
            heartbeats.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeats
        for started in (first, second):
            if started is not None and started.process.returncode is None:
                await started.kill_group()
