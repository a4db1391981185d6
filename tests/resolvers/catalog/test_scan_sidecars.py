from __future__ import annotations

import pytest

from infra.authz.rego_engine import RANKS_RULE, RegoEngine
from resolvers.catalog.scan_sidecars import rating_as_written, rating_rank

RANKS = RegoEngine().evaluate(RANKS_RULE, {})  # the catalog policy's table


@pytest.mark.parametrize(
    ("mpaa", "written", "rank"),
    [
        ("PG-13", "PG-13", 13),
        ("Rated PG-13", "PG-13", 13),
        ("US:PG-13", "PG-13", 13),
        ("US:R / US:R", "R", 17),
        ("gb:15", "15", 17),
        ("rated g", "g", 0),
        ("Not Rated", "Not Rated", None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_nfo_certificates_are_read_as_the_rank_table_knows_them(
    mpaa: str | None, written: str | None, rank: int | None
) -> None:
    assert rating_as_written(mpaa) == written
    assert rating_rank(RANKS, mpaa) == rank
