"""Per-decision timings of an engine, kept in memory for benchmarks and the metrics endpoint."""

from __future__ import annotations

import statistics
from collections import deque

__all__ = ["DecisionTimes"]


class DecisionTimes:
    """The last ``size`` decision durations in seconds."""

    def __init__(self, size: int = 4096) -> None:
        self._durations: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._durations.append(seconds)

    def __len__(self) -> int:
        return len(self._durations)

    def median(self) -> float | None:
        return statistics.median(self._durations) if self._durations else None

    def clear(self) -> None:
        self._durations.clear()
