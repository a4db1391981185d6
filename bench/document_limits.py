"""Document limits benchmark: measuring a fragment bomb, a whole uncached check, and the event
loop's longest stall while new slow-to-validate documents are checked.

The bomb is issue 15's: ``F0`` spreads ``F1`` twice, …, 41 levels, 2^40 fields once expanded.
``measure`` (gateway/document_limits.py) works out its depth and field count without expanding
it; ``GraphQLService.check`` on a fresh service parses it, measures it and refuses it
(``QUERY_TOO_COMPLEX``) before validation. Figures are medians of ``--rounds`` runs. Then four
new documents of 300 fragments each (validation compares them pairwise: about a second each) go
through ``GraphQLService.prepare`` at once while a ticker sleeps 1 ms at a time: its longest gap
is how long the loop could not answer anyone else.

    ./dev bench document_limits [--levels 41] [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _support import figure, median
from graphql import parse

from gateway.document_limits import measure
from gateway.graphql_http import GraphQLService, RequestError
from gateway.http_server import tune_garbage_collector
from gateway.schema import composed_schema


def fragment_bomb(levels: int) -> str:
    spreads = " ".join(
        f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels - 1)
    )
    return f"query {{ ...F0 }} {spreads} fragment F{levels - 1} on Query {{ serverTime }}"


def overlapping_fragments(count: int, salt: int) -> str:
    spreads = " ".join(f"...F{n}" for n in range(count))
    fragments = " ".join(f"fragment F{n} on Query {{ a{salt}: serverTime }}" for n in range(count))
    return f"{{ {spreads} }} {fragments}"


async def longest_stall(service: GraphQLService) -> tuple[float, float]:
    """(the ticker's longest gap, the wall time of four concurrent new documents), seconds."""
    done = asyncio.Event()
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    await asyncio.gather(*(service.prepare(overlapping_fragments(300, n)) for n in range(4)))
    wall = time.perf_counter() - started
    done.set()
    await ticking
    return max(gaps), wall


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
    tune_garbage_collector()  # as `revenge serve` does once it is up
    stall, wall = asyncio.run(longest_stall(GraphQLService(schema, max_tokens=5000)))
    figure("loop_longest_stall", stall * 1000, "ms")
    figure("four_new_documents", wall * 1000, "ms")
    print(
        f"summary: {options.levels} levels ({size.fields} fields expanded) measured in"
        f" {median(measured) * 1e6:.0f} us, refused by a cold check in"
        f" {median(checked) * 1e6:.0f} us; the loop stalled {stall * 1000:.0f} ms at most"
        f" while four new documents took {wall * 1000:.0f} ms to check"
    )


if __name__ == "__main__":
    main()
