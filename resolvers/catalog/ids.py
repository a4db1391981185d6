"""Turning the opaque GraphQL ids callers send into UUIDs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from infra.errors import BadUserInput

__all__ = ["parse_id", "parse_ids"]


def parse_id(value: str, argument: str = "id") -> uuid.UUID:
    """A malformed id is the caller's mistake (BAD_USER_INPUT); an unknown one is just null."""
    try:
        return uuid.UUID(str(value).strip())
    except (ValueError, AttributeError, TypeError):
        raise BadUserInput(f"{argument} is not a valid id", argument=argument) from None


def parse_ids(values: Iterable[str], argument: str = "id") -> list[uuid.UUID]:
    return [parse_id(value, argument) for value in values]
