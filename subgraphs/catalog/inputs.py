"""Catalog mutation inputs."""

from __future__ import annotations

import strawberry

from subgraphs.catalog.enums import LibraryKind

__all__ = ["CreateLibraryInput", "UpdateLibraryInput"]


@strawberry.input
class CreateLibraryInput:
    name: str
    kind: LibraryKind
    root_paths: list[str]


@strawberry.input
class UpdateLibraryInput:
    """Fields left out (or null) keep their value."""

    name: str | None = None
    root_paths: list[str] | None = None
