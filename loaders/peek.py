"""Reading what a request's loader already holds, without waiting: a field whose data a page's
prefetch loaded answers at once instead of costing the executor a coroutine and a task."""

from __future__ import annotations

from typing import Any, TypeVar

from aiodataloader import DataLoader

__all__ = ["MISSING", "Peek", "PeekableLoader", "peek"]


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


K = TypeVar("K")
V = TypeVar("V")


class PeekableLoader(DataLoader[K, V]):
    """A loader whose cache can be read without waiting (``peek``)."""

    def __init__(self) -> None:
        self.futures: dict[Any, Any] = {}
        super().__init__(cache_map=self.futures)

    def peek(self, key: K) -> Peek:
        """The loaded value when this request already loaded ``key`` (a primed page)."""
        return peek(self.futures, key)
