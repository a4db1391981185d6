"""Scratch folders: dead workers' leftovers go at start, the size limit evicts the least
recently used segments, a clean stop leaves nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from media.hls.scratch import Scratch


def _segment(folder: Path, name: str, size: int, age: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\0" * size)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_open_deletes_dead_workers_folders_and_spares_live_ones(tmp_path: Path) -> None:
    dead = tmp_path / "host-1-dead"
    _segment(dead / str(uuid.uuid4()) / "720p", "seg_00000.ts", 10, 0)
    live = tmp_path / "host-2-live"
    live.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"h = os.open({str(live / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(h, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        scratch = Scratch(tmp_path, max_bytes=10**9)

        removed = scratch.open()

        assert removed == [dead]
        assert live.exists() and scratch.directory.exists()
        scratch.close()
        assert not scratch.directory.exists()
    finally:
        holder.kill()
        holder.communicate()


def test_the_size_limit_evicts_the_least_recently_used_unprotected_segments(
    tmp_path: Path,
) -> None:
    scratch = Scratch(tmp_path, max_bytes=1000)
    scratch.open()
    folder = scratch.variant_dir(uuid.uuid4(), "720p")
    oldest = _segment(folder, "seg_00000.ts", 400, 300)
    protected = _segment(folder, "seg_00001.ts", 400, 200)
    middle = _segment(folder, "seg_00002.ts", 400, 100)
    newest = _segment(folder, "seg_00003.ts", 400, 0)

    freed = scratch.enforce_limit(frozenset({protected}))

    # 1,600 bytes against a 1,000 limit: down to 900 at most, oldest first, protected spared.
    assert freed == 800
    assert [p.exists() for p in (oldest, protected, middle, newest)] == [False, True, False, True]
    assert scratch.enforce_limit() == 0  # under the limit: nothing more goes
    scratch.close()


def test_touch_makes_a_segment_recent_and_remove_session_clears_it(tmp_path: Path) -> None:
    scratch = Scratch(tmp_path, max_bytes=500)
    scratch.open()
    session = uuid.uuid4()
    folder = scratch.variant_dir(session, "480p")
    used = _segment(folder, "seg_00000.ts", 300, 500)
    idle = _segment(folder, "seg_00001.ts", 300, 100)

    Scratch.touch(used)
    scratch.enforce_limit()

    assert used.exists() and not idle.exists()
    scratch.remove_session(session)
    assert not (scratch.directory / str(session)).exists()
    scratch.close()
