"""Loading a page's relations up front, so their fields resolve without awaiting.

A grid page of 50 items selects thousands of fields. Each async field costs the executor a
coroutine and a task even when its loader already holds the answer; so the list fields read a
primed loader synchronously (``batched``) and fall back to awaiting it when nothing primed it.
``prefetch_items`` primes exactly the relations the operation selects under the page's items,
with the same batched statements the fields would have issued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

__all__ = ["batched", "prefetch_items", "selected_under"]

T = TypeVar("T")


class _Loader(Protocol):
    def peek(self, key: Any) -> Any: ...

    def load(self, key: Any) -> Awaitable[Any]: ...


def batched(loader: _Loader, key: Any, build: Callable[[Any], T]) -> Any:
    """``build(value)`` now when the loader holds the key, else an awaitable of it."""
    peeked = loader.peek(key)
    if peeked.found:
        return build(peeked.value)

    async def later() -> T:
        return build(await loader.load(key))

    return later()


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def selected_under(selections: Iterable[Selection], *path: str) -> dict[str, list[Selection]]:
    """Fields selected at ``path`` (through fragments), each with its own sub-selections."""
    level: list[Selection] = list(selections)
    for name in path:
        level = [s for f in _fields(level) if f.name == name for s in f.selections]
    found: dict[str, list[Selection]] = {}
    for selected in _fields(level):
        found.setdefault(selected.name, []).extend(selected.selections)
    return found


async def prefetch_items(
    loaders: Any, item_ids: list[Any], wanted: dict[str, list[Selection]]
) -> None:
    """Prime the catalog loaders for the relations selected on these items."""
    if not item_ids:
        return
    relations = {
        "files": loaders.files_by_item_id,
        "images": loaders.images_by_item_id,
        "genres": loaders.genres_by_item_id,
        "people": loaders.credits_by_item_id,
    }
    chosen = {name: loader for name, loader in relations.items() if name in wanted}
    results = await asyncio.gather(*(loader.load_many(item_ids) for loader in chosen.values()))
    loaded = dict(zip(chosen, results, strict=True))
    if "files" in loaded and "streams" in selected_under(wanted["files"]):
        file_ids = [row["id"] for rows in loaded["files"] for row in rows]
        if file_ids:
            await loaders.streams_by_file_id.load_many(file_ids)
