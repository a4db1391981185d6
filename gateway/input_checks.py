"""Text no field can take: NUL characters and lone surrogates, refused before anything runs.

PostgreSQL stores neither (``text`` refuses NUL, UTF-8 cannot encode a lone surrogate), so a
search, a genre filter or a library name carrying one failed deep in a resolver as
``INTERNAL``. They arrive two ways: as JSON variables (``"\\u0000"``, ``"\\ud800"``), and as
``\\u0000`` escapes in the document's string literals (graphql-core already refuses lone
surrogates there). Both are checked in one pass over what the request holds: the variables
iteratively, map keys included (a ``JSON`` scalar's keys reach ``jsonb`` too), and the
document's string values only when its text has a ``\\u`` escape at all, so the usual
document costs one substring search. The work is linear in the request, which the body and
token limits bound.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit

__all__ = ["unstorable_text"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MESSAGE = "contains a NUL character or a lone surrogate, which no field accepts."


class _StringLiterals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: StringValueNode | None = None

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if _UNSTORABLE.search(node.value):
            self.found = node
            return self.BREAK
        return None


def _literal_problem(document: DocumentNode) -> GraphQLError | None:
    source = document.loc.source.body if document.loc is not None else None
    if source is not None and "\\u" not in source and not _UNSTORABLE.search(source):
        return None
    literals = _StringLiterals()
    visit(document, literals)
    if literals.found is None:
        return None
    return GraphQLError(f"A string literal {_MESSAGE}", literals.found)


Trail = tuple[str | int, "Trail"] | None  # a value's key and its parent's trail


def _path(trail: Trail) -> str:
    parts: list[str] = []
    while trail is not None:
        key, trail = trail
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "$" + "".join(reversed(parts))[1:]


def _variable_problem(variables: Mapping[str, Any]) -> GraphQLError | None:
    """Serialized first (C speed; NUL comes out as an escape, a lone surrogate as itself), and
    walked only when that shows one: depth-first without recursion, with a trail per value
    (not a path string), so the work stays linear however deep the JSON nests."""
    try:
        text: str | None = json.dumps(variables, ensure_ascii=False, check_circular=False)
    except (RecursionError, TypeError, ValueError):
        text = None
    if text is not None and "\\u0000" not in text and not _SURROGATE.search(text):
        return None
    stack: list[tuple[Any, Trail]] = [(variables, None)]
    while stack:
        value, trail = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return GraphQLError(f"Variable {_path(trail)} {_MESSAGE}")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    where = f"A key in variable {_path(trail)}" if trail else "A variable's name"
                    return GraphQLError(f"{where} {_MESSAGE}")
                stack.append((item, (key, trail)))
        elif isinstance(value, list):
            stack.extend((item, (index, trail)) for index, item in enumerate(value))
    return None


def unstorable_text(
    document: DocumentNode, variables: Mapping[str, Any] | None
) -> list[GraphQLError]:
    """The request's first string that holds NUL or a lone surrogate, as a ``BAD_USER_INPUT``
    error (empty when there is none); variables' names are checked with their values."""
    problem = _literal_problem(document) or (_variable_problem(variables) if variables else None)
    return [problem] if problem is not None else []
