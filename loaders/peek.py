"""Reading what a request's loader already holds, without waiting: a field whose data a page's
prefetch loaded answers at once instead of costing the executor a coroutine and a task."""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING", "Peek", "peek"]


class Peek:
    """What a loader already holds for a key (``found``), and the value."""

    __slots__ = ("found", "value")

    def __init__(self, found: bool, value: Any = None) -> None:
        self.found = found
        self.value = value


MISSING = Peek(False)


def peek(futures: dict[Any, Any], key: Any) -> Peek:
    """``futures`` is the loader's ``cache_map``: a finished, successful load is found."""
    future = futures.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception():
        return MISSING
    return Peek(True, future.result())
