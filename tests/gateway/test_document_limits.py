"""Document sizes in linear time: the fragment bomb, cycles, unknown fragments, JSON nesting."""

from __future__ import annotations

from graphql import parse

from gateway.document_limits import DocumentSize, json_depth_exceeds, measure


def fragment_bomb(levels: int) -> str:
    """``F0`` spreads ``F1`` twice, …, the last fragment selects one field: 2^(levels-1) fields."""
    spreads = " ".join(
        f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels - 1)
    )
    return f"query {{ ...F0 }} {spreads} fragment F{levels - 1} on Query {{ serverTime }}"


def test_the_fragment_bomb_is_measured_without_expanding_it():
    size = measure(parse(fragment_bomb(41)))

    assert size == DocumentSize(depth=1, fields=2**40)


def test_depth_counts_fields_through_fragments_and_inline_fragments():
    document = parse(
        "query { a { ...B } } fragment B on T { b { ... on T { c { d } } } e } query Other { x }"
    )

    assert measure(document) == DocumentSize(depth=4, fields=5)


def test_a_fragment_spread_in_several_places_counts_each_time():
    document = parse("{ a { ...F } b { c { ...F } } } fragment F on T { x y }")

    assert measure(document) == DocumentSize(depth=3, fields=7)


def test_cycles_and_unknown_fragments_count_as_empty():
    document = parse(
        "{ a { ...A ...Missing } } fragment A on T { x ...B } fragment B on T { y { ...A } }"
    )

    # a, then A's x and B's y; A again inside y is the cycle (validation refuses it anyway)
    assert measure(document) == DocumentSize(depth=2, fields=3)


def test_a_long_chain_of_fragments_does_not_recurse():
    chain = " ".join(f"fragment F{n} on T {{ f{n} {{ ...F{n + 1} }} }}" for n in range(3000))
    document = parse("{ ...F0 } " + chain + " fragment F3000 on T { end }", max_tokens=None)

    assert measure(document) == DocumentSize(depth=3001, fields=3001)


def test_json_nesting_beyond_the_limit():
    assert not json_depth_exceeds({"a": [[1]]}, limit=3)
    assert json_depth_exceeds({"a": [[[1]]]}, limit=3)
    assert not json_depth_exceeds("text", limit=0)
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert json_depth_exceeds(deep)
