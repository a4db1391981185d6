"""Parental ratings as ranks, for putting the parental rule into SQL.

``policies/catalog.rego`` decides one item at a time; list queries cannot ask it per row without
leaking counts, so they filter with the same table: store ``rating_rank(official_rating)`` (or
compare ``upper(btrim(official_rating)) = ANY(ratings_at_or_below(max))``) and write ``WHERE
rating_rank <= $1``. The table here and the one in the Rego policy must stay equal; a test proves
they agree on every entry.

A rating that is not in the table (``None``, ``""``, ``"NR"``, ``"Unrated"`` …) is *unrated*:
visible only to profiles without a limit or with ``allow_unrated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "RATING_RANKS",
    "max_rank",
    "normalize_rating",
    "rank_visible",
    "rating_rank",
    "ratings_at_or_below",
]

RATING_RANKS: Mapping[str, int] = MappingProxyType(
    {
        "G": 0,
        "TV-Y": 0,
        "TV-G": 0,
        "U": 0,
        "E": 0,
        "TV-Y7": 7,
        "TV-Y7-FV": 7,
        "PG": 10,
        "TV-PG": 10,
        "PG-13": 13,
        "TV-14": 13,
        "12": 13,
        "12A": 13,
        "R": 17,
        "TV-MA": 17,
        "15": 17,
        "16": 17,
        "NC-17": 18,
        "18": 18,
        "X": 18,
        "R18": 18,
    }
)


def normalize_rating(rating: str | None) -> str | None:
    """The table key for a rating as stored (trimmed, upper case), or ``None``."""
    if rating is None:
        return None
    return rating.strip().upper()


def rating_rank(rating: str | None) -> int | None:
    """The rank of an item's rating; ``None`` when the item is unrated (or the rating unknown)."""
    key = normalize_rating(rating)
    return None if key is None else RATING_RANKS.get(key)


def max_rank(max_rating: str | None) -> int | None:
    """The rank a profile may see up to; ``None`` means no limit.

    Raises ``ValueError`` for a rating not in the table: a limit that cannot be understood must not
    silently become "no limit" (profiles are validated against ``RATING_RANKS`` when saved).
    """
    if max_rating is None:
        return None
    rank = rating_rank(max_rating)
    if rank is None:
        raise ValueError(f"unknown parental rating {max_rating!r}")
    return rank


def rank_visible(item_rank: int | None, limit: int | None, allow_unrated: bool) -> bool:
    """The rating half of the catalog rule, on ranks: what ``WHERE`` has to express."""
    if limit is None:
        return True
    if item_rank is None:
        return allow_unrated
    return item_rank <= limit


def ratings_at_or_below(limit: int) -> list[str]:
    """Every table key whose rank is at most ``limit``, sorted (for ``= ANY($1::text[])``)."""
    return sorted(key for key, rank in RATING_RANKS.items() if rank <= limit)
