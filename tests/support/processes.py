"""Whether a process the tests started (or made start) is gone."""

from __future__ import annotations

from pathlib import Path

__all__ = ["has_exited"]


def has_exited(pid: int) -> bool:
    """Exited: no /proc entry, or a zombie some other process still has to reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"
