"""Document limits benchmark: how long measuring a fragment bomb takes, and a whole uncached check.

The bomb is issue 15's: ``F0`` spreads ``F1`` twice, …, 41 levels, 2^40 fields once expanded.
``measure`` (gateway/document_limits.py) works out its depth and field count without expanding
it; ``GraphQLService.check`` on a fresh service parses it, measures it and refuses it
(``QUERY_TOO_COMPLEX``) before validation. Figures are medians of ``--rounds`` runs.

    ./dev bench document_limits [--levels 41] [--rounds 200]
"""

from __future__ import annotations

import argparse
import time

from _support import figure, median
from graphql import parse

from gateway.document_limits import measure
from gateway.graphql_http import GraphQLService, RequestError
from gateway.schema import composed_schema


def fragment_bomb(levels: int) -> str:
    spreads = " ".join(
        f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels - 1)
    )
    return f"query {{ ...F0 }} {spreads} fragment F{levels - 1} on Query {{ serverTime }}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", type=int, default=41)
    parser.add_argument("--rounds", type=int, default=200)
    options = parser.parse_args()
    text = fragment_bomb(options.levels)
    document = parse(text)
    schema = composed_schema().schema
    measured, checked = [], []
    for _ in range(options.rounds):
        started = time.perf_counter()
        size = measure(document)
        measured.append(time.perf_counter() - started)
        service = GraphQLService(schema, max_tokens=5000)  # empty caches: the whole path
        started = time.perf_counter()
        try:
            service.check(text)
        except RequestError as error:
            assert error.code == "QUERY_TOO_COMPLEX"
        else:
            raise AssertionError("the bomb was accepted")
        checked.append(time.perf_counter() - started)
    figure("bomb_measure", median(measured) * 1e6, "us")
    figure("bomb_check_uncached", median(checked) * 1e6, "us")
    print(
        f"summary: {options.levels} levels ({size.fields} fields expanded) measured in"
        f" {median(measured) * 1e6:.0f} us, refused by a cold check in"
        f" {median(checked) * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
