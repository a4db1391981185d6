"""Scratch space for transcoded segments: one folder per worker process, nothing left behind.

Each worker owns ``<root>/<worker id>/`` and holds an exclusive ``flock`` on its ``.lock`` file
for as long as it lives; the kernel drops the lock when the process dies, however it dies. At
start a worker deletes every sibling folder whose lock it can take: those belong to processes
that crashed (SIGKILL, power loss), so a crash leaves nothing behind past the next start.

Inside, a session's segments live in ``<session>/<variant>/``. ``enforce_limit`` keeps the
whole root under the size limit by deleting the least recently used segment files first (a
served segment is touched), sparing the files a caller protects (the ones being written and
just ahead of the players); a deleted segment is simply made again if someone asks for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Scratch"]

_LOCK_NAME = ".lock"


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding the folder's lock, or None when a live process holds it."""
    try:
        handle = os.open(path / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(handle)
        return None
    return handle


@dataclass
class Scratch:
    root: Path
    max_bytes: int
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )
    _lock: int | None = None

    @property
    def directory(self) -> Path:
        return self.root / self.worker_id

    def open(self) -> list[Path]:
        """Take this worker's folder and delete those of dead workers; returns what was deleted."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = _try_lock(self.directory)
        if self._lock is None:
            raise RuntimeError(f"{self.directory} is locked by another process")
        removed = []
        for sibling in self.root.iterdir():
            if sibling == self.directory or not sibling.is_dir():
                continue
            handle = _try_lock(sibling)
            if handle is None:
                continue  # a live worker's
            try:
                shutil.rmtree(sibling, ignore_errors=True)
                removed.append(sibling)
            finally:
                os.close(handle)
        return removed

    def close(self) -> None:
        """Delete this worker's folder (a clean stop leaves nothing either)."""
        shutil.rmtree(self.directory, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def variant_dir(self, session_id: uuid.UUID, variant: str) -> Path:
        return self.directory / str(session_id) / variant

    def remove_session(self, session_id: uuid.UUID) -> None:
        shutil.rmtree(self.directory / str(session_id), ignore_errors=True)

    def size(self) -> int:
        return sum(size for _, size, _ in self._segments())

    def _segments(self) -> list[tuple[Path, int, float]]:
        found = []
        for path in self.root.glob("*/*/*/seg_*.ts"):
            with contextlib.suppress(OSError):
                info = path.stat()
                found.append((path, info.st_size, info.st_mtime))
        return found

    def enforce_limit(self, protected: frozenset[Path] = frozenset()) -> int:
        """Delete least recently used segments until the root holds at most 90 % of the limit
        (so it doesn't trim on every segment); returns how many bytes went."""
        segments = self._segments()
        total = sum(size for _, size, _ in segments)
        if total <= self.max_bytes:
            return 0
        goal = int(self.max_bytes * 0.9)
        freed = 0
        for path, size, _ in sorted(segments, key=lambda entry: entry[2]):
            if total - freed <= goal:
                break
            if path in protected:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                freed += size
        return freed

    @staticmethod
    def touch(path: Path) -> None:
        """Mark a segment as just used (its mtime orders the LRU)."""
        with contextlib.suppress(OSError):
            os.utime(path)
