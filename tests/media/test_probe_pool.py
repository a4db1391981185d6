"""The probe pool when its processes die or stop answering: a clear error, never a stall."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from media.probe import ProbeError, probe_file
from media.probe_pool import ProbePool
from tests.support.media_files import make_video
from tests.support.processes import has_exited

forkserver_only = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="needs the fork server"
)


def worker_and_parent(path: str) -> tuple[int, int, str]:
    """The worker's pid, its parent's (the fork server) and the file's container."""
    return os.getpid(), os.getppid(), probe_file(path).container


async def _until_gone(pid: int) -> bool:
    for _ in range(100):
        if has_exited(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_killed_worker_is_replaced_and_the_next_probe_works(tmp_path: Path) -> None:
    clip = str(make_video(tmp_path / "clip.mkv"))

    async with ProbePool(workers=1, target=worker_and_parent) as pool:
        first, _, _ = await pool.probe(clip)
        os.kill(first, signal.SIGKILL)
        assert await _until_gone(first)
        second, _, container = await pool.probe(clip)

    assert second != first
    assert container == "mkv"


@forkserver_only
async def test_a_fork_server_that_stops_answering_fails_the_probe_without_stalling(
    tmp_path: Path,
) -> None:
    clip = str(make_video(tmp_path / "clip.mkv"))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    async with ProbePool(workers=1, target=worker_and_parent) as earlier:
        _, server, _ = await earlier.probe(clip)
    os.kill(server, signal.SIGSTOP)  # alive, but it will never fork another worker
    try:
        async with ProbePool(workers=1, timeout_s=3.0, target=worker_and_parent) as pool:
            ticker = asyncio.create_task(tick())
            with pytest.raises(ProbeError, match=r"^no probe worker started within 3 s$"):
                await pool.probe(clip)
            ticker.cancel()
            stalled_ticks = ticks
            _, new_server, container = await pool.probe(clip)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server, signal.SIGKILL)

    assert stalled_ticks > 0  # the event loop ran while the fork server did not answer
    assert new_server != server
    assert container == "mkv"


async def test_closing_kills_a_worker_that_does_not_exit(tmp_path: Path) -> None:
    clip = str(make_video(tmp_path / "clip.mkv"))
    pool = ProbePool(workers=1, target=worker_and_parent)
    worker, _, _ = await pool.probe(clip)
    os.kill(worker, signal.SIGSTOP)  # idle, and deaf to the pool's request to exit
    try:
        await pool.close()
        assert await _until_gone(worker)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)


DIES_AT_START = textwrap.dedent(
    """\
    import asyncio, sys

    import media.probe_pool as probe_pool
    from media.probe import ProbeError

    probe_pool.PRELOAD_MODULES = ["dies_on_import"]  # the fork server dies while it starts


    async def main(path):
        async with probe_pool.ProbePool(workers=1, timeout_s=60) as pool:
            for _ in range(2):
                try:
                    await pool.probe(path)
                    print("probed")
                except ProbeError as error:
                    print(f"ProbeError: {error}")


    if __name__ == "__main__":
        asyncio.run(main(sys.argv[1]))
    """
)


@forkserver_only
def test_a_fork_server_that_dies_while_starting_fails_the_probe_with_probe_error(
    tmp_path: Path,
) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    (library / "dies_on_import.py").write_text("import os\nos._exit(3)\n")
    script = tmp_path / "server.py"
    script.write_text(DIES_AT_START)
    clip = make_video(tmp_path / "clip.mkv")
    environment = {**os.environ, "PYTHONPATH": str(library)}

    finished = subprocess.run(
        [sys.executable, str(script), str(clip)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == ["ProbeError: probe worker crashed"] * 2
