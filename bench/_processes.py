"""A benchmark's view of a process tree in /proc: its members, CPU time and resident memory."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["cpu_seconds", "tree", "tree_cpu_seconds", "tree_rss_mib"]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def tree(pid: int) -> set[int]:
    """``pid`` and its live descendants (granian or Hive workers, probe pools …)."""
    family, frontier = {pid}, [pid]
    while frontier:
        for child in _children(frontier.pop()):
            if child not in family:
                family.add(child)
                frontier.append(child)
    return family


def cpu_seconds(pids: set[int]) -> float:
    """utime + stime of each process (all its threads) plus what its reaped children used."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    return cpu_seconds(tree(pid))


def tree_rss_mib(pid: int) -> float:
    total_kib = 0
    for member in tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024
