"""Full-text search over titles, people and genres with PostgreSQL's built-in tsvector.

User text never reaches ``to_tsquery`` as written: it is cut into runs of letters and digits
(everything else — quotes, ``&|!():*<->``, emoji — separates words), and each word becomes a
prefix term ``word:*``. Such words contain no tsquery operator, so the built query is safe.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg

from infra.authz.service import VisibilityFilter
from infra.errors import BadUserInput
from loaders.visibility import EVERYTHING, visibility_conditions

__all__ = ["MAX_SEARCH_RESULTS", "prefix_tsquery", "search_items", "search_words"]

MAX_SEARCH_RESULTS = 100
MAX_WORDS = 16
MAX_WORD_LENGTH = 64
# Weights for D, C, B, A: titles (A) count most, then series/album and people (B), genres (C).
RANK_WEIGHTS = [0.05, 0.2, 0.4, 1.0]

_WORD = re.compile(r"[^\W_]+")


def search_words(text: str) -> list[str]:
    """The lowercase words of ``text``; at most ``MAX_WORDS``, each cut to ``MAX_WORD_LENGTH``."""
    words: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group().lower()[:MAX_WORD_LENGTH]
        if word not in words:
            words.append(word)
        if len(words) == MAX_WORDS:
            break
    return words


def prefix_tsquery(text: str) -> str | None:
    """``"star wa"`` → ``"star:* & wa:*"``; None when the text has no words at all."""
    words = search_words(text)
    if not words:
        return None
    return " & ".join(f"{word}:*" for word in words)


_SEARCH_SQL = """
SELECT i.*
FROM media_items AS i, to_tsquery('simple', $1) AS q
WHERE i.search_vector @@ q
  AND i.extra_type IS NULL
  AND NOT i.is_missing
  AND {visible}
ORDER BY lower(i.title) = $2 DESC,
         ts_rank_cd($3::float4[], i.search_vector, q) DESC,
         i.sort_title, i.id
LIMIT $4
"""


async def search_items(
    pool: asyncpg.Pool, text: str, first: int, visibility: VisibilityFilter = EVERYTHING
) -> list[Any]:
    """Items matching every word of ``text`` as a prefix, exact title matches first."""
    if not 1 <= first <= MAX_SEARCH_RESULTS:
        raise BadUserInput(f"first must be between 1 and {MAX_SEARCH_RESULTS}", argument="first")
    query = prefix_tsquery(text)
    if query is None:
        return []
    exact_title = " ".join(text.split()).lower()
    params: list[Any] = [query, exact_title, RANK_WEIGHTS, first]

    def add(value: Any, sql_type: str) -> str:
        params.append(value)
        return f"${len(params)}::{sql_type}"

    visible = " AND ".join(visibility_conditions(visibility, add)) or "true"
    rows: list[Any] = await pool.fetch(_SEARCH_SQL.format(visible=visible), *params)
    return rows
