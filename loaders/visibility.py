"""The authorization decision as SQL: what a principal may see of the catalog.

Lists, counts, search, children, lookups by id and federation references all add these
conditions to their ``WHERE``, so a hidden item is never fetched: totals and pages cannot leak
it, and asking for it by id answers null, exactly like an id that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from infra.authz.casbin_engine import ALL
from infra.authz.service import VisibilityFilter

__all__ = ["EVERYTHING", "library_condition", "visibility_conditions"]

EVERYTHING = VisibilityFilter(library_ids=ALL)

AddParam = Callable[[Any, str], str]


def library_condition(visibility: VisibilityFilter, add: AddParam, column: str) -> list[str]:
    if visibility.library_ids is ALL:
        return []
    ids = sorted(uuid.UUID(i) for i in visibility.library_ids if _is_uuid(i))
    return [f"{column} = ANY({add(ids, 'uuid[]')})"]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def visibility_conditions(
    visibility: VisibilityFilter, add: AddParam, alias: str = "i"
) -> list[str]:
    """Conditions on ``media_items AS alias``; ``add(value, sql_type)`` binds a parameter."""
    conditions = library_condition(visibility, add, f"{alias}.library_id")
    if visibility.max_rating_rank is not None:
        rank = add(visibility.max_rating_rank, "int")
        if visibility.allow_unrated:
            conditions.append(
                f"({alias}.effective_rating_rank <= {rank}"
                f" OR {alias}.effective_rating_rank IS NULL)"
            )
        else:
            conditions.append(f"{alias}.effective_rating_rank <= {rank}")
    if visibility.blocked_tags:
        blocked = add(sorted(visibility.blocked_tags), "text[]")
        conditions.append(f"NOT ({alias}.tags && {blocked})")
    if visibility.allowed_tags:
        conditions.append(f"{alias}.tags && {add(sorted(visibility.allowed_tags), 'text[]')}")
    return conditions
